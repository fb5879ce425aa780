"""fedquick: a Flower app in the shape of Flower's PyTorch quickstart, anchored on fedmarket."""
