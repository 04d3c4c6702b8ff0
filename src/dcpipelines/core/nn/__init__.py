"""Neural pieces: small decoders, LoRA and questioner towers, contrastive losses, training."""
