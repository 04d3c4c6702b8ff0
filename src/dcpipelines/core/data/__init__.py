"""Readers and validators for the raw data formats the project ships or accepts."""

from dcpipelines.core.data.digits import load_digits_table
from dcpipelines.core.data.errors import DataValidationError
from dcpipelines.core.data.images import ImageSet, read_image_table
from dcpipelines.core.data.labelled_dialogue import read_labelled_dialogue
from dcpipelines.core.data.prompts import read_prompts
from dcpipelines.core.data.recsys import read_click_log
from dcpipelines.core.data.scripts import parse_script, read_script

__all__ = [
    "DataValidationError",
    "ImageSet",
    "load_digits_table",
    "parse_script",
    "read_click_log",
    "read_image_table",
    "read_labelled_dialogue",
    "read_prompts",
    "read_script",
]
