"""The two ports (BlobStore, MetaStore) and their adapters, chosen by URL scheme in ``registry``."""
