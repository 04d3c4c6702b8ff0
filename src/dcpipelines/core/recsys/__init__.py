"""Recommendation on click logs: the click model, per-user splits, user-level metrics, and
CoDA's pieces (cloud-side coarse matching, the device's sample filter, batched per-user
fine-tuning).
"""
