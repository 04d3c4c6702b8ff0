import numpy as np
import pytest

from dcpipelines.core.imaging.generators import (
    GeneratorSpec,
    count_parameters,
    generate_images,
    pack_generator,
    train_generator,
    unpack_generator,
)
from dcpipelines.core.imaging.scenes import render, sample_unique_scenes


@pytest.fixture(scope="module")
def data():
    scenes = sample_unique_scenes(0, 64, [0.5, 0.5, 0.0, 0.0])
    rng = np.random.default_rng(0)
    text = rng.normal(size=(64, 384)).astype(np.float32)  # stands in for prompt embeddings
    return text, np.stack([render(s) for s in scenes])


def test_training_lowers_the_loss_and_is_deterministic(data):
    text, images = data
    spec = GeneratorSpec(hidden=32, channels=8, epochs=6, batch_size=16)
    model, history = train_generator(spec, text, images, seed=3)
    again, history_again = train_generator(spec, text, images, seed=3)
    assert history[-1] < history[0]
    assert history == history_again
    out = generate_images(model, text)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    assert np.array_equal(out, generate_images(again, text))


def test_cloud_sized_generator_has_more_parameters_and_round_trips(data):
    text, images = data
    edge = GeneratorSpec(hidden=32, channels=8, epochs=1)
    cloud = GeneratorSpec(hidden=128, channels=32, epochs=1)
    small, _ = train_generator(edge, text, images, seed=0)
    large, history = train_generator(cloud, text, images, seed=0)
    assert count_parameters(large) > 4 * count_parameters(small)
    restored = unpack_generator(pack_generator(large, cloud, history))
    assert np.allclose(generate_images(restored, text), generate_images(large, text))


def test_bad_shapes_are_errors(data):
    text, images = data
    with pytest.raises(ValueError, match="divisible by 4"):
        train_generator(GeneratorSpec(hidden=8, channels=4, image_size=22), text, images, 0)
    with pytest.raises(ValueError, match="64 prompt embeddings but 10 images"):
        train_generator(GeneratorSpec(hidden=8, channels=4), text, images[:10], 0)
