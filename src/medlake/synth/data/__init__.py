"""Vocabulary data files of the synthetic hospital (read by ``medlake.synth.vocab``)."""
