"""Privacy of uploads without user identifiers: per-user embedding distributions learnt on
the device, and the tracking attacks a curious cloud can mount on the uploaded embeddings."""
