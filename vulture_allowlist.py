"""Names vulture reports as unused in ``src/causalcam`` that stay, each with why.

``make lint`` runs ``vulture src/causalcam vulture_allowlist.py --min-confidence 60``.
Vulture sees no call of a function registered by a decorator (a typer command, a FastAPI
route), of a protocol method's parameters, of an attribute a library reads, or of the
public API that only users, the tests and the benchmarks call. The file is read by vulture,
never imported.
"""

# typer registers these by decorator: the commands and the app callback with its option
_main
show_version
demo
localise
data_import
data_fetch
data_verify
data_pack
train_command
train_all_command
train_volumes_command
benchmark_ground_truth
export
retrain

# FastAPI registers these by decorator: error handlers and routes of the page's JSON API
user_error
internal_error
one_slice
panel

# selenium reads it: the Chromium binary the driver starts
_.binary_location

# the context-manager protocol: __exit__(exc_type, exc, tb)
_.exc_type
_.exc
_.tb

# progressive resizing (recipe early_size, early_share): the side of an epoch's crops, which
# the training loop is to read
_.crop_size

# deprecated, and removed with the engine's next change (src/causalcam/explain/)
_.all_variants

# public API that users, the tests and the benchmarks call (nothing in the package does)
offline_chromium  # app.browser: the browser test, benchmarks/serve_speed.py, the screenshot
write_fake_dataset  # data.fake: the synthetic data set of the tests and benchmarks
write_samples  # data.samples: regenerates the bundled sample scans from the data set
collect_images  # explain_files: the Python form of `causalcam explain`'s inputs (README)
load_images  # explain_files: the Python form of `causalcam explain`'s inputs (README)
_.last_path  # training.TrainingRun: where the run's last checkpoint is
IDENTIFYING_KEYWORDS  # medical.privacy: what the privacy tests check stays out of outputs

# public API read by users and the tests: the Explainer's folded copy, a method's formula
_.explained_model
_.formula

# properties a typed result writes into its JSON form by name (``json_derived``), for readers
# of the file
margins
default_reading
average_drop
increase_in_confidence
