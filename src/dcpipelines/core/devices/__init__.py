"""Device-side machinery: MNN export and runtime, a concurrent task runner, on-device stream
processing, a fleet deployment simulator, device profiles and a cost model.

Each submodule is imported on its own (``from dcpipelines.core.devices.mnn_runtime import ...``)
so that the light ones (stream, deployment, profiles) do not pull in torch or MNN.
"""
