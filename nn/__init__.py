"""Small neural networks built on autograd Values: modules, losses, optimizers, data, fit."""
from . import datasets, losses, optim
from .module import ACTIVATIONS, MLP, Layer, Module, Neuron, load
from .train import History, fit

__all__ = ["Module", "Neuron", "Layer", "MLP", "ACTIVATIONS", "load", "fit", "History",
           "datasets", "losses", "optim"]
