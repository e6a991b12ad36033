"""roost.raft"""
