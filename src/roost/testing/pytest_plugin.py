"""pytest plugin registered by the roost package (fixtures come with the server)."""
