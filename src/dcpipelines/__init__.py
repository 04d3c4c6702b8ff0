"""dcpipelines: reproducible pipelines for device-cloud collaborative machine learning."""

__version__ = "0.1.0"
