"""Imaging pieces for text-to-image routing: a procedural scene world (renderer and prompt
grammar), conditional image generators and a CLIP-style quality scorer trained here, and adapters for
real diffusers / transformers CLIP models stored locally."""
