// cbor-x requires this inside a try/catch and falls back to its pure-JS decoder when it throws.
throw new Error('cbor-extract is not installed: CBOR is decoded in pure JS, as in the bundles');
