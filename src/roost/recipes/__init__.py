"""roost.recipes"""
