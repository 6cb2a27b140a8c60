"""Hand-made fingerprints and classifiers that the learned fingerprints are compared with.

Each baseline attributes an experiment's test images from its training images (the same
arrays as the attribution network) and writes a metrics file of the same form.
"""
