"""Data: the datasets' facts and file grammar, reading and indexing images, the synthetic sample, fetching,
the decoded-image cache, splits by patient, and class balancing. Never imports TensorFlow."""

from .balance import balance
from .cache import build_cache, load_images, storage_size
from .datasets import DatasetIndex, index_dataset
from .images import inspect_image, load_rgb, resize
from .layouts import parse_breakhis, parse_idc
from .registry import DATASETS, default_data_dir, facts, is_synthetic
from .sample import SampleSpec, ensure_sample, write_sample
from .sources import resolve_data_dir
from .splits import assert_patients_disjoint, patient_overlap, split_frame, split_table

__all__ = [
    "DATASETS", "DatasetIndex", "SampleSpec", "assert_patients_disjoint", "balance", "build_cache",
    "default_data_dir", "ensure_sample", "facts", "index_dataset", "inspect_image", "is_synthetic", "load_images",
    "load_rgb", "parse_breakhis", "parse_idc", "patient_overlap", "resize", "resolve_data_dir", "split_frame",
    "split_table", "storage_size", "write_sample",
]
