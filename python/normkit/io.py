"""safetensors files, with the call shapes of the safetensors package's numpy
API: ``load_file(filename) -> {name: ndarray}``, ``save_file(tensors,
filename, metadata=None)``, plus ``load_metadata(filename) -> {str: str}``.
State dicts of normkit modules, of PyTorch (saved with
``safetensors.torch.save_file``) and normkit's training checkpoints all read
and write this way."""

from ._normkit import io as _io

load_file = _io.load_file
load_metadata = _io.load_metadata
save_file = _io.save_file

__all__ = ["load_file", "load_metadata", "save_file"]
