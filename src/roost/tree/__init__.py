"""roost.tree"""
