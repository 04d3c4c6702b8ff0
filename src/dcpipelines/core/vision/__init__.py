"""Vision models and methods: backbones, device-cloud methods, FLOP counting."""
