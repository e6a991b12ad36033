"""roost.server"""
