"""Pure domain: digests, manifests (prolly chunks), names, versions, the error hierarchy. No I/O."""
