"""Image files read as encoded bytes in the loader's workers and decoded on the training device:
the batched path of the folder data sets (``imagefolder``, ``folder``).

A training batch travels as ``(EncodedImages, labels, index)``: :class:`EncodedFileBatches` (in
the workers) reads each file's bytes and decodes, there, every file the training device will not:
all of them for a CPU device, and for a CUDA device all but the JPEGs nvJPEG decodes (PNGs and
CMYK JPEGs, which it cannot, would otherwise be decoded one by one in the training process while
the GPU waits; a JPEG cut short, which it may decode without an error, is left to the CPU's
decoders, which name it). :meth:`EncodedImages.to` only notes the device, the bytes staying in
CPU memory, where torchvision's decoders read them whatever the device. :func:`decode_images`
then decodes the rest for that device and pads the batch, in chunks, to their largest images,
for :class:`~hyperssl.data.batched_augment.BatchedMultiViewTransform` to crop each image within
its own size.

Decoding gives the pixels of the per-image path's PIL ``convert("RGB")``
(:func:`hyperssl.data.image_files.decode_rgb`): grayscale, palette and CMYK images become RGB,
alpha is dropped, 16-bit PNGs keep their 8 high bits. torchvision's CPU decoders (libjpeg-turbo,
libpng, libwebp) give PIL's pixels exactly for the files tested (tests/data/test_folder_batches.py,
JPEG allowed 2 levels); nvJPEG's IDCT and chroma upsampling are its own, so its JPEG pixels may
differ slightly (checked only where a CUDA device is: that file's ``cuda`` test). A file
torchvision does not decode (BMP, TIFF, PPM, or a damaged one) goes to PIL's decode, which
raises the one-line error naming a file that decodes nowhere; with ``skip_corrupt`` such a file
is replaced by the next image of its batch that decodes, with a warning, as the per-image path
replaces it by the next sample.

torchvision 0.29 deprecates its decoders in favour of TorchCodec's (the same libraries and
nvJPEG); they still work, with a DeprecationWarning.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import Dataset
from torchvision.io import ImageReadMode, decode_image, decode_jpeg
from torchvision.transforms.v2.functional import to_dtype

from hyperssl.data.image_files import ImageFiles, UnreadableImageError, first_readable, read_rgb

JPEG_START = [0xFF, 0xD8, 0xFF]  # start-of-image marker, then the first segment's marker
JPEG_END = [0xFF, 0xD9]  # end-of-image marker


@dataclass
class EncodedImages:
    """The encoded files of one batch, as read from disk.

    data: uint8 [N], the B files' bytes end to end; file i is ``data[offsets[i]:offsets[i + 1]]``.
    offsets: B + 1 byte offsets.
    paths: the B files, named by errors.
    decoded: position in the batch -> uint8 [3, H, W], the files already decoded (in the
        workers), in CPU memory.
    for_nvjpeg: the positions of the JPEGs the workers left to nvJPEG (:meth:`nvjpeg_decodes`).
    device: where the batch is to be decoded. ``to(device)`` sets it and leaves ``data`` in CPU
        memory, which torchvision's decoders read whatever the device (nvJPEG copies what it
        needs); Lightning moves a batch by calling ``to`` on what has one.
    """

    data: Tensor
    offsets: list[int]
    paths: list[str]
    decoded: dict[int, Tensor] = dataclasses.field(default_factory=dict)
    for_nvjpeg: list[int] = dataclasses.field(default_factory=list)
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))

    def __len__(self) -> int:
        return len(self.paths)

    def file(self, i: int) -> Tensor:
        """uint8 [n]: the bytes of file ``i``."""
        return self.data[self.offsets[i] : self.offsets[i + 1]]

    def nvjpeg_decodes(self, i: int) -> bool:
        """Whether file ``i`` is a whole JPEG of 1 or 3 components. Its header is read by PIL:
        torchvision does not turn on nvJPEG's CMYK conversion, so a 4-component JPEG would fail
        the batch's nvJPEG call. A file that does not end with the end-of-image marker (cut
        short, or with data after the image) is left to the CPU decoders, which name a damaged
        file where nvJPEG may decode what it has without an error."""
        start, end = self.offsets[i], self.offsets[i + 1]
        if end - start < 4 or self.data[start : start + 3].tolist() != JPEG_START:
            return False
        if self.data[end - 2 : end].tolist() != JPEG_END:
            return False
        try:
            with Image.open(io.BytesIO(self.file(i).numpy().tobytes())) as image:
                return image.mode in ("L", "RGB")
        except OSError:  # a damaged header: decoded on the CPU, which names the file
            return False

    def to(self, device: torch.device | str, *args: object, **kwargs: object) -> EncodedImages:
        """The same bytes, to be decoded on ``device`` (Tensor.to's other arguments ignored)."""
        return dataclasses.replace(self, device=torch.device(device))

    def pin_memory(self) -> EncodedImages:
        """The DataLoader's pinning (``data.pin_memory`` on CUDA) of the decoded images, so that
        their copies to the device do not wait for it."""
        decoded = {i: image.pin_memory() for i, image in self.decoded.items()}
        return dataclasses.replace(self, decoded=decoded)


def _read_bytes(path: str) -> bytes:
    """The file's bytes; none for a file gone since the data set was built, so that decoding
    names it as the per-image path does."""
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


class EncodedFileBatches(Dataset):
    """The encoded files, labels and indices of a batch of :data:`ImageFiles`, read whole: the
    DataLoader hands ``__getitems__`` the batch's indices (pass ``collate_fn=already_collated``).

    Every file is decoded here, in the worker, except with ``jpegs_on_device`` (a CUDA device)
    the JPEGs that nvJPEG decodes; a file that does not decode here is left to
    :func:`decode_images`, which names it or skips it.
    """

    def __init__(self, files: ImageFiles, jpegs_on_device: bool = False) -> None:
        if not isinstance(files, ImageFiles):
            raise TypeError(f"encoded batches read image files, not {files}")
        self.files = files
        self.jpegs_on_device = jpegs_on_device

    def __len__(self) -> int:
        return len(self.files)

    def __getitems__(self, indices: list[int]) -> tuple[EncodedImages, Tensor, Tensor]:
        """-> the B files' bytes, labels long [B] (-1 unlabelled), index long [B]."""
        paths, labels = zip(*(self.files.file(i) for i in indices), strict=True)
        blobs = [_read_bytes(path) for path in paths]
        offsets = [0, *itertools.accumulate(len(blob) for blob in blobs)]
        # One buffer per batch: a worker hands the main process one shared tensor, not B.
        data = torch.from_numpy(np.frombuffer(bytearray().join(blobs), dtype=np.uint8))
        encoded = EncodedImages(data, offsets, list(paths))
        for i in range(len(encoded)):
            if self.jpegs_on_device and encoded.nvjpeg_decodes(i):
                encoded.for_nvjpeg.append(i)
            else:
                with contextlib.suppress(UnreadableImageError):
                    encoded.decoded[i] = decode_on_cpu(encoded.file(i), encoded.paths[i], "")
        return encoded, torch.tensor(labels), torch.tensor(indices)


def decode_on_cpu(data: Tensor, path: str, key: str) -> Tensor:
    """uint8 [3, H, W]: the file's bytes (uint8 [n]) decoded to RGB by torchvision on the CPU;
    a file it does not decode goes to PIL's decode, which raises
    :class:`~hyperssl.data.image_files.UnreadableImageError` naming a file that decodes nowhere.
    """
    if len(data):
        try:
            image = decode_image(data, mode=ImageReadMode.RGB)
        except RuntimeError:
            pass  # not a format torchvision reads, or damaged: PIL decides
        else:
            # 16-bit PNGs decode to uint16: their 8 high bits, as the per-image path keeps.
            return to_dtype(image, torch.uint8, scale=True)
    return read_rgb(path, key)


def _decode_jpegs_on_gpu(encoded: EncodedImages) -> dict[int, Tensor]:
    """The JPEGs the workers left to nvJPEG, decoded on the batch's CUDA device in one batched
    call: position in the batch -> uint8 [3, H, W]. Empty when one of them fails, which fails
    the whole call: the CPU path then decodes each, and names the file that decodes nowhere."""
    # torchvision's nvJPEG decode rather than NVIDIA DALI's: no extra dependency, and its output
    # goes through the batched augmentation the in-memory data sets use. A DALI pipeline would
    # augment with DALI's own crop, jitter and blur ops, whose parameter distributions differ.
    jpegs = encoded.for_nvjpeg
    if not jpegs:
        return {}
    # nvJPEG may write its outputs before the work queued on the current stream has run, and the
    # caching allocator hands it memory that work still reads (pytorch/vision#9606): wait for it.
    torch.cuda.current_stream(encoded.device).synchronize()
    files = [encoded.file(i) for i in jpegs]
    try:
        images = decode_jpeg(files, mode=ImageReadMode.RGB, device=encoded.device)
    except RuntimeError:
        # nvJPEG's stream may still write into outputs the allocator is about to reuse.
        torch.cuda.synchronize(encoded.device)
        return {}
    return dict(zip(jpegs, images, strict=True))


# The most pixels a chunk of a decoded batch is padded to: its float copy in the crop step is 12
# bytes a pixel (400 MiB), whatever the largest image of the batch.
CHUNK_PIXELS = 2**25


def pad_in_chunks(
    images: Sequence[Tensor], max_pixels: int = CHUNK_PIXELS
) -> tuple[list[Tensor], Tensor]:
    """B uint8 [3, H_i, W_i] on one device -> consecutive chunks uint8 [b, 3, max H_i, max W_i],
    each padded to its own largest image (image i in the top left corner, zeros around it) and
    holding at most ``max_pixels`` padded pixels, or one image that alone holds more; and the
    sizes long [B, 2] (H_i, W_i) on that device. Padding the whole batch to its largest image
    would make one photo of 4000 x 3000 cost as much memory and arithmetic as B of them."""
    groups: list[list[Tensor]] = []
    height = width = 0  # the last group's largest height and width
    for image in images:
        h, w = image.shape[1:]
        if groups and (len(groups[-1]) + 1) * max(height, h) * max(width, w) <= max_pixels:
            groups[-1].append(image)
            height, width = max(height, h), max(width, w)
        else:
            groups.append([image])
            height, width = h, w
    chunks = [_padded(group) for group in groups]
    sizes = torch.tensor([tuple(image.shape[1:]) for image in images])
    # Not blocking: a blocking copy from host memory would also wait for the step in flight.
    return chunks, sizes.to(chunks[0].device, non_blocking=True)


def _padded(images: Sequence[Tensor]) -> Tensor:
    """b uint8 [3, H_i, W_i] -> uint8 [b, 3, max H_i, max W_i], image i in the top left corner."""
    height = max(image.shape[1] for image in images)
    width = max(image.shape[2] for image in images)
    batch = images[0].new_zeros(len(images), 3, height, width)
    for padded, image in zip(batch, images, strict=True):
        padded[:, : image.shape[1], : image.shape[2]] = image
    return batch


def decode_images(
    encoded: EncodedImages, labels: Tensor, key: str, skip_corrupt: bool = False
) -> tuple[list[Tensor], Tensor, Tensor]:
    """Decode a batch on ``encoded.device``: the files the workers decoded are moved there, the
    JPEGs left are decoded with nvJPEG on a CUDA device, any other file on the CPU.

    Returns the images as consecutive chunks uint8 [b, 3, H, W], each padded to its largest
    image (:func:`pad_in_chunks`), the sizes long [B, 2] and the labels long [B]. A file that
    decodes nowhere raises :class:`~hyperssl.data.image_files.UnreadableImageError` naming it,
    or, with ``skip_corrupt``, is replaced by the next image of the batch that decodes, with its
    label and a warning (``key``: the config key errors name).
    """
    device = encoded.device
    decoded = {i: image.to(device, non_blocking=True) for i, image in encoded.decoded.items()}
    if device.type == "cuda":
        decoded |= _decode_jpegs_on_gpu(encoded)

    def decode(i: int) -> tuple[Tensor, int]:
        """(image i, i), decoded once."""
        if i not in decoded:
            decoded[i] = decode_on_cpu(encoded.file(i), encoded.paths[i], key).to(device)
        return decoded[i], i

    def read(i: int) -> tuple[Tensor, int]:
        """(image, position it came from) for position i."""
        return first_readable(decode, i, len(encoded), key) if skip_corrupt else decode(i)

    images, sources = zip(*(read(i) for i in range(len(encoded))), strict=True)
    if list(sources) != list(range(len(encoded))):
        labels = labels[torch.tensor(sources, device=labels.device)]
    return (*pad_in_chunks(images), labels)
