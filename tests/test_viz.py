"""Figure builders and widgets, driven without a browser."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from mdseg import viz
from mdseg.data.dataset import VOCDepth, eval_transforms
from mdseg.depth.targets import generate
from mdseg.training.schedule import recipes
from mdseg.voc import PALETTE


@pytest.fixture(scope="module")
def items(tmp_path_factory, synthetic_root):
    import shutil

    root = tmp_path_factory.mktemp("viz")
    shutil.copytree(synthetic_root / "VOCdevkit", root / "VOCdevkit")
    generate(root, "simulated", "val", progress=False)
    dataset = VOCDepth(root, "val", "simulated", eval_transforms(64))
    return root, [dataset[i] for i in range(3)]


@pytest.fixture
def predictions(items):
    _, its = items
    truth = np.stack([it["mask"].numpy() for it in its])
    wrong = truth.copy()
    wrong[:, :, :32] = np.where(truth[:, :, :32] == 0, 1, 0)  # every labelled pixel of the left half wrong
    return {"single decoder": wrong, "multi decoder": np.where(truth == 255, 0, truth)}


def _titles(fig):
    return [ax.get_title() for ax in fig.axes]


def _legend_clear_of_images(fig) -> bool:
    """No legend of the figure overlaps an axes that shows an image."""
    fig.canvas.draw()
    boxes = [ax.get_window_extent() for ax in fig.axes if ax.get_images()]
    return bool(fig.legends) and not any(lg.get_window_extent().overlaps(b) for lg in fig.legends for b in boxes)


def _integer_ticks(ax) -> bool:
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    return bool(ticks) and all(float(t).is_integer() for t in ticks)


def test_explorer_widget_drives_the_figure(items, predictions):
    _, its = items
    widget = viz.explorer(its, predictions)
    controls = {c.description: c for c in widget.children if hasattr(c, "description")}
    assert set(controls) >= {"image", "model", "opacity", "show errors"}
    controls["image"].value = 2
    controls["model"].value = "multi decoder"
    assert its[2]["id"] in _titles(widget.result)[0] and _titles(widget.result)[1].startswith("multi decoder")
    controls["opacity"].value = 1.0
    shown = widget.result.axes[1].get_images()[0].get_array()
    expected = PALETTE[predictions["multi decoder"][2]] / 255.0
    np.testing.assert_allclose(np.asarray(shown), expected, atol=1e-6)
    controls["show errors"].value = True
    controls["model"].value = "single decoder"
    shown = np.asarray(widget.result.axes[1].get_images()[0].get_array())
    mask = its[2]["mask"].numpy()
    wrong = (predictions["single decoder"][2] != mask) & (mask != 255)
    assert wrong.any() and np.all(shown[wrong] == [1.0, 0.0, 0.0])
    assert "errors" in _titles(widget.result)[1]
    assert _legend_clear_of_images(widget.result)
    open_before = len(plt.get_fignums())
    for index in (0, 1, 2, 0):
        controls["image"].value = index
    assert len(plt.get_fignums()) == open_before  # no figure left open per change
    plt.close("all")


def test_figure3_grid(items, predictions):
    _, its = items
    fig = viz.figure3(its, predictions)
    images = [ax for ax in fig.axes if ax.get_images()]
    assert len(images) == 3 * 5  # input, truth, two models, pseudo depth
    assert "ground truth" in _titles(fig) and "pseudo depth" in _titles(fig)
    assert any(t.startswith("multi decoder\npixel acc 1.000") for t in _titles(fig))
    assert fig.legends and "background" in [t.get_text() for t in fig.legends[0].get_texts()]
    assert _legend_clear_of_images(fig)
    plt.close(fig)


def test_dataset_grid_legend_leaves_every_row_visible(items):
    root, _ = items
    for rows in (1, 3, 6):
        fig = viz.dataset_grid(VOCDepth(root, "val"), range(min(rows, 4)), true_depth=True)
        assert _legend_clear_of_images(fig), rows
        plt.close(fig)


def test_depth_gallery_and_curves(items):
    root, its = items
    fig = viz.depth_gallery(root, "simulated", [its[0]["id"], its[1]["id"]])
    assert sum(1 for t in _titles(fig) if t.startswith("aligned error")) == 2
    error_map = [ax for ax in fig.axes if ax.get_title().startswith("aligned error")][0].get_images()[0]
    low, high = error_map.get_clim()
    assert low == pytest.approx(-high) and high > 0  # centred on zero: white means no error
    history = [{"global_epoch": e, "train": {"seg": 1 / e, "depth": 0.1, "total": 1}, "val": {"mIoU": e / 10}}
               for e in (1, 2, 3)]
    fig = viz.training_curves({"a": history}, boundaries={"a": [1, 3]})
    assert [ax.get_title() for ax in fig.axes] == ["train focal loss L_seg", "train depth MSE L_depth", "val mIoU"]
    assert len(fig.axes[2].lines) == 2  # the curve and one stage boundary
    np.testing.assert_allclose(fig.axes[2].lines[0].get_ydata(), [0.1, 0.2, 0.3])
    assert all(_integer_ticks(ax) for ax in fig.axes)
    seg_only = [{**r, "train": {"seg": r["train"]["seg"], "total": 1}} for r in history[:2]]
    fig = viz.training_curves({"single-decoder": seg_only})
    assert [ax.get_title() for ax in fig.axes] == ["train focal loss L_seg", "val mIoU"]  # no empty depth panel
    assert all(ax.lines and ax.lines[0].get_marker() == "o" for ax in fig.axes)  # two points still show
    metres = [{**r, "train": {**r["train"], "depth": 30.0 / r["global_epoch"]}} for r in history]
    fig = viz.training_curves({"normalised": history, "metric": metres})
    assert fig.axes[1].get_yscale() == "log" and "log scale" in fig.axes[1].get_title()  # 0.1 and 30 both visible
    assert fig.axes[0].get_yscale() == "linear"
    plt.close("all")


def test_timeline_and_class_bars():
    chosen = [recipes(2)[n] for n in ("single-decoder", "depth-first/copy/s->b")]
    fig = viz.schedule_timeline(chosen)
    assert len(fig.axes[0].patches) == 1 + 3
    assert any("copy depth→seg" in t.get_text() for t in fig.axes[0].texts)
    fig = viz.per_class_iou_difference([0.5] * 21, [0.25] * 21)
    assert len(fig.axes[0].patches) == 21 and fig.axes[0].patches[0].get_height() == pytest.approx(0.25)
    assert "one seed: no interval" in fig.axes[0].get_title()
    plt.close("all")


def test_per_class_differences_are_paired_and_grey_where_the_interval_covers_zero():
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    from mdseg.study.report import paired_per_class

    base = [[0.5] * 21, [0.6] * 21, [0.4] * 21]
    ours = [[0.6] * 21, [0.72] * 21, [0.49] * 21]  # every class better on every seed
    ours[0][3], ours[1][3], ours[2][3] = 0.4, 0.7, 0.45  # class 3: -0.1, +0.1, +0.05: covers 0
    fig = viz.per_class_iou_difference(ours, base, "x")
    bars = fig.axes[0].patches
    assert bars[0].get_height() == pytest.approx((0.1 + 0.12 + 0.09) / 3)
    assert mcolors.to_hex(bars[0].get_facecolor()) == mcolors.to_hex("tab:green")
    assert mcolors.to_hex(bars[3].get_facecolor()) == mcolors.to_hex("lightgrey")
    assert "3 paired seeds" in fig.axes[0].get_title()
    summary = {"a": {"seeds": [2, 0], "per_class_iou": [[2.0], [0.0]]}, "b": {"seeds": [0, 1, 2], "per_class_iou": [[0.5], [1.5], [2.5]]}}
    assert paired_per_class(summary, "a", "b") == ([[0.0], [2.0]], [[0.5], [2.5]])  # seeds 0 and 2, in order
    plt.close("all")


def test_predict_works_for_multi_and_single_decoder_models(items):
    from mdseg import MultiDecoderUNet

    _, its = items
    torch.manual_seed(0)
    model = MultiDecoderUNet("resnet18", encoder_weights=None).eval()
    images = torch.stack([it["image"] for it in its])
    np.testing.assert_array_equal(viz.predict(model, images), viz.predict(model.to_single_decoder(), images))


def test_weight_curve_has_one_line_per_target_and_the_baseline_band():
    from mdseg.study.compare import mean_std
    from mdseg.viz import weight_curve

    def summary(offset):
        return {"single-decoder": {"mIoU": mean_std([0.5, 0.52])},
                "naive-joint": {"mIoU": mean_std([0.4 + offset, 0.42 + offset]), "recipe": "naive-joint",
                                "depth_weight": 0.15},
                "naive-joint@w=0.5": {"mIoU": mean_std([0.3 + offset, 0.31 + offset]), "recipe": "naive-joint",
                                      "depth_weight": 0.5}}

    fig = weight_curve({"normalised": summary(0.0), "metric": summary(0.05)})
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(labels) == ["naive joint, metric depth", "naive joint, normalised depth", "single-decoder (mean ± std)"]
    lines = [c for c in ax.containers]  # one errorbar container per target, two points each
    assert len(lines) == 2 and list(lines[1].lines[0].get_xdata()) == [0.15, 0.5]


def test_a_gallery_is_written_from_checkpoints_and_read_back_for_figure3(tmp_path, ci_root, monkeypatch):
    """Figure 3 without training: predictions saved as lossless PNGs with the checkpoint's hash, read
    back into the items and predictions figure3 and the explorer take."""
    import json

    import matplotlib.pyplot as plt

    from mdseg.study.gallery import read_gallery, write_gallery
    from mdseg.study.profiles import get_profile

    monkeypatch.chdir(tmp_path)
    ci = get_profile("ci", data_root=str(ci_root), stage_epochs=1, diagnose_every=0)
    provenance = write_gallery(ci, None, None, tmp_path / "gallery", tmp_path / "gallery-runs", count=3)
    assert list(provenance["runs"]) == ["single-decoder", "naive-joint", "depth-first/copy/s->b"]
    items, seg, depth, about = read_gallery(tmp_path / "gallery")
    assert len(items) == 3 and seg["naive-joint"].shape == (3, 64, 64) and depth["naive-joint"].max() == 1.0
    stored = json.loads((tmp_path / "gallery" / "gallery.json").read_text())
    assert stored["runs"]["naive-joint"]["checkpoint_sha256"] == about["runs"]["naive-joint"]["checkpoint_sha256"]
    # the saved classes are the model's argmax, exactly
    from mdseg.model.checkpoint import load_model

    model, _ = load_model(tmp_path / "gallery-runs" / stored["runs"]["naive-joint"]["run"])
    import torch

    with torch.no_grad():
        again = model(torch.stack([i["image"] for i in items]), tasks=("seg",))["seg"].argmax(1).numpy()
    assert (again == seg["naive-joint"]).mean() > 0.999  # the PNG round trip of the input loses < 1/255 per pixel
    fig = viz.figure3(items, seg)
    assert len(fig.axes) >= 3 * 5
    assert read_gallery(tmp_path / "nothing") is None
    plt.close("all")


def test_the_tradeoff_figure_places_each_seed_and_bands_the_baseline():
    import matplotlib.pyplot as plt

    from helpers import run_record

    runs = {"single-decoder": [run_record(k, m, budget={"depth_epochs": 0}) for k, m in enumerate((0.50, 0.52))],
            "naive-joint": [run_record(0, 0.48, "naive-joint", budget={"depth_epochs": 4}, depth_r2=0.6),
                            run_record(1, 0.47, "naive-joint", budget={"depth_epochs": 4}, depth_r2=0.7),
                            run_record(2, 0.46, "naive-joint", budget={"depth_epochs": 4})]}
    fig = viz.tradeoff(runs, "x")
    ax = fig.axes[0]
    assert "(left out: 1 runs from before depth quality was recorded)" in ax.get_title()
    dots = [line for line in ax.lines if line.get_marker() == "o" and line.get_markeredgecolor() != "black"]
    assert len(dots) == 1 and list(dots[0].get_xdata()) == [0.6, 0.7]
    means = [line for line in ax.lines if line.get_markeredgecolor() == "black"]  # the mean, in the seeds' marker
    assert len(means) == 1 and means[0].get_marker() == "o" and means[0].get_color() == dots[0].get_color()
    assert list(means[0].get_xdata()) == pytest.approx([0.65]) and list(means[0].get_ydata()) == pytest.approx([0.475])
    assert any(line.get_label() == "single-decoder (no depth, 2 seeds)" for line in ax.lines)
    plt.close("all")


def test_tradeoff_panels_band_depth_alone_and_count_diverged_seeds():
    import math

    import matplotlib.pyplot as plt

    from helpers import run_record

    alone = [run_record(k, 0.01, "depth-only", budget={"seg_epochs": 0, "depth_epochs": 4}, depth_r2=r2)
             for k, r2 in enumerate((0.60, 0.70))]
    stopped = run_record(2, math.nan, "depth-only", budget={"seg_epochs": 0, "depth_epochs": 4}, stopped="loss is nan")
    joint = [run_record(0, 0.40, "naive-joint", budget={"seg_epochs": 4, "depth_epochs": 4}, depth_r2=0.5)]
    fig = viz.tradeoffs({"first": {"depth-only": alone + [stopped]}, "second": {"naive-joint": joint},
                         "third": {"naive-joint": joint}})
    first = fig.axes[0]
    assert "(left out: 1 that diverged)" in first.get_title()
    band = [line for line in first.lines if "no segmentation" in line.get_label()]
    assert len(band) == 1 and band[0].get_label() == "depth-only (no segmentation, 2 seeds, 1 diverged)"
    assert list(band[0].get_xdata()) == pytest.approx([0.65, 0.65])  # a vertical line at depth alone's mean R²
    assert [ax.get_visible() for ax in fig.axes] == [True, True, True, False]  # 3 panels, 2 columns
    assert "naive-joint (1 seed)" in [line.get_label() for line in fig.axes[1].lines]
    with pytest.raises(ValueError, match="at least one panel"):
        viz.tradeoffs({})
    plt.close("all")
