"""Small neural networks built on autograd Values: modules, losses, optimizers, data, fit."""
from . import datasets, losses, optim
from .module import ACTIVATIONS, MLP, Layer, Module, Neuron, load
from .health import Health, plot_health
from .train import History, fit

__all__ = ["Module", "Neuron", "Layer", "MLP", "ACTIVATIONS", "load", "fit", "History",
           "Health", "plot_health",
           "datasets", "losses", "optim"]
