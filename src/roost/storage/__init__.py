"""roost.storage"""
