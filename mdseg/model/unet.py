"""The paper's model: one segmentation_models_pytorch encoder feeding two U-Net decoders."""
from __future__ import annotations

from collections.abc import Iterable

import segmentation_models_pytorch as smp
import torch
from torch import nn

from ..errors import DownloadError, SettingError
from ..runtime.hub import offline_unless_reachable
from ..voc import NUM_CLASSES
from .shipped import SYNTHETIC, load_encoder

TASKS = ("seg", "depth")
DECODER_CHANNELS = (256, 128, 64, 32, 16)


def _unet(encoder_name: str, encoder_weights: str | None, classes: int,
          decoder_channels: tuple[int, ...]) -> smp.Unet:
    """An ``smp.Unet`` with ``encoder_weights``: ``None`` (random init), ``"synthetic"`` (the
    shipped offline pretrained weights, see :mod:`mdseg.training.pretrain`) or an smp name such as
    ``"imagenet"``; a failed weight download becomes an error that says what to do."""
    if encoder_weights is None or encoder_weights == SYNTHETIC:
        unet = smp.Unet(encoder_name, encoder_weights=None, classes=classes, decoder_channels=decoder_channels)
        if encoder_weights == SYNTHETIC:
            load_encoder(unet.encoder, encoder_name)
        return unet
    with offline_unless_reachable() as online:
        try:
            return smp.Unet(encoder_name, encoder_weights=encoder_weights, classes=classes,
                            decoder_channels=decoder_channels)
        except Exception as error:  # smp raises hub, HTTP or OS errors depending on the source
            where = "the hub is unreachable (offline)" if not online else f"{type(error).__name__}: {error}"
            raise DownloadError(
                f"Could not load '{encoder_weights}' weights for encoder '{encoder_name}': {where}. "
                "Offline, use --encoder-weights synthetic (the shipped stand-in, pretrained on synthetic scenes; "
                "encoder_weights='synthetic' in Python) or --encoder-weights none (random init; encoder_weights=None); "
                "or download the weights once with network (they are cached "
                "under ~/.cache/huggingface) and rerun with HF_HUB_OFFLINE=1."
            ) from error


class MultiDecoderUNet(nn.Module):
    """A shared encoder with a semantic decoder and a depth decoder (paper's Figure 2).

    Built from an ``smp.Unet``'s pieces, so :meth:`to_single_decoder` returns a plain
    ``smp.Unet`` that anyone with segmentation_models_pytorch can load.

    Shapes: input (N, 3, H, W) with H and W multiples of 32; ``"seg"`` output
    (N, num_classes, H, W) logits; ``"depth"`` output (N, 1, H, W), unbounded regression.
    """

    def __init__(self, encoder_name: str = "resnet50", encoder_weights: str | None = "imagenet",
                 num_classes: int = NUM_CLASSES, decoder_channels: Iterable[int] = DECODER_CHANNELS):
        super().__init__()
        self.encoder_name = encoder_name
        self.num_classes = num_classes
        self.decoder_channels = tuple(decoder_channels)
        seg = _unet(encoder_name, encoder_weights, num_classes, self.decoder_channels)
        depth = smp.Unet(encoder_name, encoder_weights=None, classes=1, decoder_channels=self.decoder_channels)
        self.encoder = seg.encoder
        self.seg_decoder, self.seg_head = seg.decoder, seg.segmentation_head
        self.depth_decoder, self.depth_head = depth.decoder, depth.segmentation_head

    def decoder(self, task: str) -> nn.Module:
        """The decoder body of ``task`` ("seg" or "depth")."""
        return {"seg": self.seg_decoder, "depth": self.depth_decoder}[_check_task(task)]

    def head(self, task: str) -> nn.Module:
        return {"seg": self.seg_head, "depth": self.depth_head}[_check_task(task)]

    def forward(self, x: torch.Tensor, tasks: Iterable[str] = TASKS,
                encoder_grad_scale: dict[str, float] | None = None) -> dict[str, torch.Tensor]:
        """Run the encoder once and only the decoders in ``tasks``; returns ``{task: output}``.
        ``encoder_grad_scale``: per task, a factor on the gradient its output sends back into the
        encoder (the forward values are unchanged; the decoder's own gradient is not scaled)."""
        features = self.encoder(x)
        out = {}
        for task in tasks:
            factor = (encoder_grad_scale or {}).get(task, 1.0)
            seen = features if factor == 1.0 else [_scale_gradient(f, factor) for f in features]
            out[task] = self.head(task)(self.decoder(task)(seen))
        return out

    @torch.no_grad()
    def copy_decoder(self, src: str, dst: str) -> None:
        """Copy decoder body weights ``src`` -> ``dst`` (the heads differ in width and stay as they are)."""
        self.decoder(dst).load_state_dict(self.decoder(src).state_dict())

    def to_single_decoder(self) -> smp.Unet:
        """A deployable ``smp.Unet`` (encoder + semantic decoder + head), depth decoder dropped.

        Its output equals ``self(x, tasks=("seg",))["seg"]``; its parameter count equals a
        freshly built ``smp.Unet`` of the same encoder.
        """
        unet = smp.Unet(self.encoder_name, encoder_weights=None, classes=self.num_classes,
                        decoder_channels=self.decoder_channels)
        unet.encoder.load_state_dict(self.encoder.state_dict())
        unet.decoder.load_state_dict(self.seg_decoder.state_dict())
        unet.segmentation_head.load_state_dict(self.seg_head.state_dict())
        return unet.to(next(self.parameters()).device).train(self.training)

    def unfreeze(self, tasks: Iterable[str], train_encoder: bool = True) -> list[nn.Parameter]:
        """Freeze everything, then unfreeze the decoders and heads of ``tasks`` (and the encoder
        with ``train_encoder``); returns those parameters."""
        self.requires_grad_(False)
        modules = [self.encoder] if train_encoder else []
        for task in tasks:
            modules += [self.decoder(task), self.head(task)]
        params = []
        for module in modules:
            module.requires_grad_(True)
            params += list(module.parameters())
        return params

    def config(self) -> dict:
        """What rebuilds this architecture (stored with every checkpoint)."""
        return {"encoder_name": self.encoder_name, "num_classes": self.num_classes,
                "decoder_channels": list(self.decoder_channels)}


def _scale_gradient(x: torch.Tensor, factor: float) -> torch.Tensor:
    """``x`` itself in the forward pass (an alias); the gradient that reaches ``x`` through it is
    multiplied by ``factor``."""
    alias = x.view_as(x)
    if alias.requires_grad:
        alias.register_hook(lambda grad: grad * factor)
    return alias


def _check_task(task: str) -> str:
    if task not in TASKS:
        raise SettingError(f"Unknown task '{task}'; tasks are {TASKS}.")
    return task
