"""trainboard in other training frameworks: ``trainboard.integrations.lightning.TrainboardLogger``."""
