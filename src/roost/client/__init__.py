"""roost.client"""
