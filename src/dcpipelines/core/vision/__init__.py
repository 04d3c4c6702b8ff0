"""Vision models and methods: small CNN backbones, feature caches, client-adaptive modules."""
