"""``cairn server``: a stateless ASGI app over a MetaStore and a BlobStore."""
