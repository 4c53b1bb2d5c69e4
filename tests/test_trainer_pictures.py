"""Pictures of samples: image grids place each image in its tile; scatter plots put points where they belong."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from schemagm.train.pictures import as_images, image_grid, picture_of, scatter


def test_grid_tiles_hold_the_images_pixel_for_pixel():
    imgs = torch.rand(5, 3, 8, 8)
    im = image_grid(imgs, ncol=3, pad=1, min_size=8)  # no enlargement
    assert im.mode == "RGB" and im.size == (3 * 9 + 1, 2 * 9 + 1)
    px = np.asarray(im)
    for i in range(5):
        r, c = divmod(i, 3)
        tile = px[1 + r * 9 : 1 + r * 9 + 8, 1 + c * 9 : 1 + c * 9 + 8]
        assert np.array_equal(tile, (imgs[i].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    assert (px[1 + 9 : 1 + 9 + 8, 1 + 2 * 9 : 1 + 2 * 9 + 8] == 128).all()  # the empty sixth tile stays grey


def test_flat_square_vectors_are_images_others_are_not():
    assert as_images(torch.rand(4, 64)).shape == (4, 1, 8, 8)
    assert as_images(torch.rand(4, 3 * 16)).shape == (4, 3, 4, 4)
    assert as_images(torch.rand(4, 10)) is None
    with pytest.raises(ValueError, match=r"shape \[4, 10\]"):
        picture_of(torch.rand(4, 10))
    gray = image_grid(torch.full((1, 64), 2.0), min_size=28)  # clipped to 1, enlarged to >= 28 px
    assert gray.size == (40, 40) and np.asarray(gray)[4:36, 4:36].min() == 255


def test_scatter_puts_points_in_their_quadrant_over_the_data():
    data = torch.tensor([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    im = scatter(torch.tensor([[0.9, 0.9]]), data, size=200, margin=10)
    px = np.asarray(im)
    red = np.argwhere(np.all(px == (214, 39, 40), axis=-1))
    assert len(red) > 0
    assert (red[:, 0] < 100).all() and (red[:, 1] > 100).all()  # upper right (image rows grow downwards)
    assert np.all(px[100, 100] == 255)  # nothing at the centre


def test_scatter_draws_every_sample_inside_its_axes():
    from schemagm.train.pictures import nice_ticks

    assert nice_ticks(-1.05, 1.05) == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert nice_ticks(0.0, 130.0) == [0.0, 50.0, 100.0]
    assert nice_ticks(-3.3, 2.1) == [-2.0, 0.0, 2.0]
    # a bulk near the origin and one far sample: the far one is drawn too (it was clipped by quantiles)
    bulk = torch.randn(500, 2, generator=torch.Generator().manual_seed(0)) * 0.1
    far = torch.tensor([[40.0, -30.0]])
    im = scatter(torch.cat([bulk, far]), size=300, margin=10)
    px = np.asarray(im)
    red = np.argwhere(np.all(px == (214, 39, 40), axis=-1))
    left, plot = 10 + 40, 300 - 10 - 50
    assert (
        red[:, 1].min() >= left
        and red[:, 1].max() <= left + plot
        and red[:, 0].min() >= 10
        and red[:, 0].max() <= 10 + plot
    )
    # the far sample sits at the right, low end (x is the largest, y the smallest of all points)
    assert red[:, 1].max() > left + 0.9 * plot and red[:, 0].max() > 10 + 0.75 * plot
    # tick labels in the margins: dark text left of the frame and under it
    text = np.all(px < 110, axis=-1)  # the labels are dark grey (60); the frame and ticks lighter (120)
    assert text[:, :left].any() and text[10 + plot + 2 :, :].any()
