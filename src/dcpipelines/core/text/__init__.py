"""Text pieces: dialogue data sets, the sentence encoder, query clustering, text metrics."""
