"""The metric check: trivial predictors under each reading of the paper's mIoU, against hand computation."""
import pytest
import torch

from mdseg.study.metric_check import READINGS, constant, paper_fit, score, trivial_scores

LABELS = torch.tensor([[[0, 0], [0, 1]], [[0, 0], [2, 255]]])  # two 2x2 images; 255 = ignore


def test_all_background_scores_what_hand_computation_says():
    values = score([{"mask": LABELS}], {"bg": constant(0)})["bg"]
    # dataset: background TP 5 of union 7, classes 1 and 2 IoU 0 (absent classes left out)
    assert values[READINGS[0]] == pytest.approx((5 / 7) / 3)
    assert values[READINGS[1]] == 0
    # per image: (3/4 + 0) / 2 and (2/3 + 0) / 2, averaged
    assert values[READINGS[2]] == pytest.approx(((3 / 4) / 2 + (2 / 3) / 2) / 2)
    assert values[READINGS[3]] == 0
    assert values["acc"] == pytest.approx(5 / 7)


def test_the_best_single_class_and_a_model_are_scored_too():
    scores = trivial_scores([{"mask": LABELS}], model=lambda batch: batch["mask"].clamp(max=20))
    perfect = scores["untrained head, depth-first encoder"]
    assert perfect[READINGS[0]] == 1 and perfect["acc"] == 1
    # all class 1: class 1 IoU 1/7 (one TP, six FP), background 0, class 2 0 -> 20-class dataset mean (1/7) / 2
    best = next(v for k, v in scores.items() if k.startswith("all aeroplane (the best single class under"))
    assert best[READINGS[1]] == pytest.approx((1 / 7) / 2)


def test_the_fit_sentence_follows_the_numbers():
    low_acc = {"bg": {**{r: 0.0 for r in READINGS}, "acc": 0.7}}
    assert "no reading fits" in paper_fit(low_acc, "tiny")
    high_acc = {"bg": {READINGS[0]: 0.3, READINGS[1]: 0.01, READINGS[2]: 0.3, READINGS[3]: 0.0, "acc": 0.95}}
    assert "fit 20 classes, dataset, 20 classes, per image" in paper_fit(high_acc, "tiny")
