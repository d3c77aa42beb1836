"""The conflict-resolution engine: resolvers behind two small interfaces, run by `engine`."""
