"""Models: thin architectures over the layers, each with a dataclass config.

MODELS maps a class name (as saved in a run's config.json) to the class that rebuilds it.
"""
from .captioner import Captioner, CaptionerConfig
from .classifier import (BagConfig, BagOfVectors, ClassifierConfig, DocVectorClassifier, DocVectorConfig,
                         SequenceClassifier)
from .language_model import LanguageModel, LanguageModelConfig
from .music import PianoRollConfig, PianoRollModel
from .seq2seq import Seq2Seq, Seq2SeqConfig
from .speech import SpeechConfig, SpeechRecognizer
from .tagger import SequenceTagger, TaggerConfig

MODELS = {cls.__name__: cls for cls in (LanguageModel, SequenceClassifier, BagOfVectors, SequenceTagger, Seq2Seq,
                                        PianoRollModel, Captioner, SpeechRecognizer,
                                        DocVectorClassifier)}

__all__ = ["MODELS", "LanguageModel", "LanguageModelConfig", "SequenceClassifier", "ClassifierConfig",
           "BagOfVectors", "BagConfig", "SequenceTagger", "TaggerConfig", "Seq2Seq", "Seq2SeqConfig",
           "PianoRollModel", "PianoRollConfig", "Captioner", "CaptionerConfig",
           "SpeechRecognizer", "SpeechConfig", "DocVectorClassifier", "DocVectorConfig"]
