"""Training: data sources, the trainer, checkpoints, run directories, scale-out.

* :mod:`.data` -- built-in sets and user files bound to a spec's data nodes
  (``get_dataset(source, graph, seed) -> DataSource``);
* :mod:`.config` -- ``TrainConfig`` from flags or a TOML file;
* :mod:`.trainer` -- the loop: one optimiser per group, phases in order, NaN stop;
* :mod:`.checkpoint` -- atomic, safely loaded checkpoints;
* :mod:`.rundir` -- the run directory's layout; :mod:`.run` -- ``load_run(path)``;
* :mod:`.distributed` -- data parallelism with torch.distributed;
* :mod:`.pictures` -- image grids and scatter plots (Pillow);
* :mod:`.launch` -- ``train(config, resume=..., force=...)``, what ``schemagm train`` calls.

See docs/training.md.
"""
