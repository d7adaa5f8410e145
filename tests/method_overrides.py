"""Overrides that make each registered method small and quick for the tests that run every
method (the parts matrix, training on disk, exact resume). A method missing here runs with its
schema's defaults; one whose defaults are large (queues, prototypes, hidden layers) or whose
behaviour starts after some epochs adds its line here, in one place for all of those tests."""

SMALL: dict[str, list[str]] = {
    "mocov2plus": ["method.queue_size=64"],
    "mocov3": ["method.predictor.hidden_dim=32"],
    "byol": ["method.predictor.hidden_dim=32"],
    "simsiam": ["method.predictor.hidden_dim=16"],
    # DINO: the prototypes train from the first step of the tests' short runs, and the teacher
    # temperature changes each epoch (the resume test crosses an epoch).
    "dino": [
        "method.num_prototypes=64",
        "method.freeze_last_layer=0",
        "method.warmup_teacher_temperature_epochs=2",
    ],
    # The queue fills in two steps and is used from the second epoch; the prototypes are frozen
    # during the first (the resume test crosses both boundaries).
    "swav": [
        "method.num_prototypes=24",
        "method.queue_size=32",
        "method.epoch_queue_starts=1",
        "method.freeze_prototypes_epochs=1",
    ],
    "nnclr": ["method.queue_size=64", "method.predictor.hidden_dim=32"],
}


def small(method: str) -> list[str]:
    """``method=<method>`` and its small sizes."""
    return [f"method={method}", *SMALL.get(method, [])]
