"""Models: thin architectures over the layers, each with a dataclass config."""
from .classifier import BagConfig, BagOfVectors, ClassifierConfig, SequenceClassifier
from .language_model import LanguageModel, LanguageModelConfig

MODELS = {cls.__name__: cls for cls in (LanguageModel, SequenceClassifier, BagOfVectors)}

__all__ = ["LanguageModel", "LanguageModelConfig", "SequenceClassifier", "ClassifierConfig",
           "BagOfVectors", "BagConfig", "MODELS"]
