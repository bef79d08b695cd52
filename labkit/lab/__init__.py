"""The lab layer: what a learner, an instructor and a batch run meet.

- ``topic``: the labs and steps of a topic (data in ``labkit/data/labs``),
  the topic's constants and the notebooks' parameters;
- ``actions``: one call per notebook cell (``import labkit.lab.actions as lab``);
- ``checks``: each step's self-check and the progress table;
- ``notebooks``: the lab, demo and challenge versions of the notebooks;
- ``runner``: unattended runs and batch runs (papermill);
- ``widgets``: live counts and the recovery timeline (ipywidgets);
- ``status``: ``labkit status``.
"""
