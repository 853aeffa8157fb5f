"""Train: launch the trainer in the background, watch it live, stop it, compare and promote runs."""

import streamlit as st

from eurosat import architectures, config, run_compare, runs, transfer
from eurosat import training_charts as charts
from eurosat.errors import EuroSATError
from eurosat.registry import active_model, promote_run, revert_to_shipped
from eurosat.ui import state
from eurosat.ui.frame import ensure_frame

ensure_frame()
PCT = st.column_config.NumberColumn(format="percent")
d = runs.TrainSettings()
WEIGHT_CHOICES = {"none": "random (from scratch)", "imagenet": "ImageNet (Keras downloads it once; online)",
                  "file": "a weights file"}

st.title("Train")
st.caption(f"Retrain a model in the background (one training at a time). Runs are saved in "
           f"`{config.runs_dir()}`; a run keeps going if you close this tab.")
if st.session_state[state.TRAIN_NOTICE]:
    kind, text = st.session_state[state.TRAIN_NOTICE]
    (st.success if kind == "success" else st.warning)(text)
    st.session_state[state.TRAIN_NOTICE] = None

table = architectures.stored_table()
a1, a2 = st.columns([3, 1])
arch = a1.selectbox("Architecture", list(architectures.ARCHITECTURES), key="train_arch",
                    format_func=lambda n: f"{n}{' (default)' if n == architectures.DEFAULT_ARCH else ''}")
size = a2.selectbox("Input size (px)", architectures.INPUT_SIZES, key="train_input_size",
                    help="Each 64×64 tile is resized to this side inside the model (for ImageNet backbones, "
                         "which learnt on larger images). The work per tile grows with (size/64)².")
facts = table.get(arch)
base = table.get(architectures.DEFAULT_ARCH)
if facts and base:
    mflops = transfer.upscaled_mflops(facts["mflops"], size)
    st.caption(f"{architectures.ARCHITECTURES[arch].description}: **{facts['parameters']:,} parameters, "
               f"{'≈' if size != 64 else ''}{mflops:,.1f} MFLOPs per tile** ({mflops / base['mflops']:.2f}× "
               f"the default's model work per tile{f', tiles upscaled to {size} px' if size != 64 else ''}).")
with st.form("train_form"):
    c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
    data = c1.text_input("Data (EuroSAT_RGB.zip or a folder of class folders)", value=d.data)
    epochs = c2.number_input("Epochs", 1, 1000, d.epochs)
    batch = c3.number_input("Batch size", 1, 4096, d.batch_size, step=16)
    lr = c4.number_input("Learning rate", 1e-5, 0.5, d.learning_rate, step=1e-4, format="%.4f")
    c1, c2, c3, c4 = st.columns([3, 1, 1, 1])
    name = c1.text_input("Run name", placeholder="empty: run-<date>-<time>")
    subset = c2.number_input("Subset fraction", 0.001, 1.0, d.subset, step=0.005, format="%.3f",
                             help="Fraction of every split: 0.01 is a quick run of about 240 images.")
    augment = c3.checkbox("Augmentation", d.augment)
    export = c4.checkbox("Export TFLite", d.export, help="Needed to promote the run.")
    with st.expander("Transfer learning (start from other weights, freeze the backbone)"):
        w1, w2 = st.columns([1, 2])
        start = w1.selectbox("Start from", list(WEIGHT_CHOICES), format_func=WEIGHT_CHOICES.get,
                             key="train_weights")
        weights_file = w2.text_input("Weights file (.keras, any architecture: layers matching by name and "
                                     "shape are copied)", key="train_weights_file",
                                     placeholder="/path/to/model.keras")
        f1, f2, f3 = st.columns(3)
        freeze = f1.checkbox("Freeze the backbone", key="train_freeze",
                             help="Train only the head (pooling, dropout, the 10-class layer).")
        thaw = f2.number_input("Unfreeze at epoch (0: stay frozen)", 0, 1000, 0, key="train_unfreeze",
                               help="From this epoch (counted from 0) the whole model trains.")
        lr_scale = f3.number_input("Backbone learning-rate scale", 0.001, 1.0, d.backbone_lr_scale,
                                   step=0.05, format="%.3f", key="train_backbone_lr",
                                   help="The backbone learns at this × the learning rate (e.g. 0.1).")
    with st.expander("Distillation (learn from a teacher model's probabilities)"):
        t1, t2 = st.columns([2, 1])
        teacher = t1.text_input("Teacher .tflite file(s), comma-separated (their mean is the teacher)",
                                key="train_teacher", placeholder=str(config.models_dir() / config.TFLITE_TTA),
                                help="Empty: no teacher. The shipped 8-view file is a strong one; the "
                                     "shipped model was distilled from several runs' 8-view files (README).")
        weight = t2.number_input("Teacher's share of each target", 0.0, 1.0, d.distill_weight, step=0.05,
                                 key="train_distill_weight", help="The rest is the one-hot label.")
        m1, m2 = st.columns([1, 2])
        mix = m1.number_input("Mixed tiles (× training images)", 0.0, 2.0, d.teacher_mix_fraction, step=0.25,
                              key="train_teacher_mix",
                              help="Mixup/CutMix pairs of training tiles the teacher labels (function "
                                   "matching): 1.0 doubles each epoch's work.")
        online = m2.checkbox("Make and label them afresh in every batch (consistent teaching, slower)",
                             key="train_teacher_online")
    submitted = st.form_submit_button("Start training", type="primary")
if submitted:
    weights = (weights_file.strip() or "(no file given)") if start == "file" else start
    settings = runs.TrainSettings(data=data.strip(), epochs=int(epochs), batch_size=int(batch),
                                  learning_rate=float(lr), augment=augment, subset=float(subset),
                                  name=name.strip(), export=export, arch=arch, weights=weights,
                                  freeze_backbone=freeze, unfreeze_epoch=int(thaw) if thaw else None,
                                  backbone_lr_scale=float(lr_scale), input_size=int(size),
                                  teacher=teacher.strip(), distill_weight=float(weight),
                                  teacher_mix_fraction=float(mix), teacher_online=online)
    try:
        launched = runs.launch_run(settings)
        st.session_state[state.TRAIN_LIVE_RUN] = launched.name
        st.success(f"Started run '{launched.name}' (pid {launched.pid}).")
    except EuroSATError as exc:
        st.error(str(exc))


@st.fragment(run_every=2)
def live_view() -> None:
    """Progress, curves and log of the running training; refreshes every 2 s."""
    run = runs.current_run()
    seen = st.session_state[state.TRAIN_LIVE_RUN]
    if run is None:
        if seen:  # the run we watched has ended: refresh the whole page (history, notice)
            ended = runs.read_run(config.runs_dir() / seen).state
            st.session_state[state.TRAIN_LIVE_RUN] = None
            st.session_state[state.TRAIN_NOTICE] = ("success" if ended == "finished" else "warning",
                                                    f"Run '{seen}' ended: {ended}.")
            st.rerun()
        st.info("No training is running. Fill the form above to start one.")
        return
    st.session_state[state.TRAIN_LIVE_RUN] = run.name
    head, stop = st.columns([5, 1], vertical_alignment="bottom")
    head.subheader(f"Running: {run.name}")
    if stop.button("Stop training", key="stop_training", disabled=run.stop_requested):
        try:
            runs.stop_run(run.path)
            run = runs.read_run(run.path)
        except EuroSATError as exc:
            st.error(str(exc))
    if run.stop_requested:
        st.warning("Stop requested: the run ends after the current batch (a test or export under way "
                   "finishes first) and keeps its checkpoint and metrics.")
    p = runs.progress(run)
    st.progress(p.fraction, text=p.text)
    if run.metrics:
        st.plotly_chart(charts.curves_figure(run.metrics), key="live_curves")
    else:
        st.caption("The loss and accuracy curves appear after the first epoch.")
    st.code(runs.log_tail(run.path, 8) or "(no output yet)", language=None)


live_view()

st.header("Run history")
all_runs = [r for r in runs.list_runs() if not r.is_active]  # the active one is shown live above
if not all_runs:
    st.info("No finished, stopped or failed runs yet.")
    st.stop()
st.dataframe(runs.history_rows(all_runs), hide_index=True, column_config={
    "best val acc": PCT, "test acc (Keras)": PCT, "test acc (TFLite)": PCT})
picked = st.selectbox("Run", [r.name for r in all_runs], key="train_history_run")
run = next(r for r in all_runs if r.name == picked)
if run.status.get("error"):
    st.error(run.status["error"])
t1, t2 = st.columns([1, 4], vertical_alignment="center")
if t1.button("Test only", key="train_test_only", disabled=not runs.testable(run),
             help="Test (and export) this run's best checkpoint on the test split again, without training: "
                  "a stopped run becomes tested and promotable."):
    try:
        runs.launch_test(run.path)
        st.session_state[state.TRAIN_LIVE_RUN] = run.name
        st.rerun()
    except EuroSATError as exc:
        st.error(str(exc))
t2.caption("Test only: evaluates the best checkpoint on the test split in the background (no training)."
           if runs.testable(run) else "Test only needs a run that is over and has a best checkpoint.")
left, right = st.columns([2, 3])
with left:
    st.markdown("**Learning curves**")
    if run.metrics:
        st.plotly_chart(charts.curves_figure(run.metrics), key="history_curves")
    else:
        st.caption("No finished epoch.")
    with st.expander(f"Log ({run.state})", expanded=run.state in ("crashed", "failed")):
        st.code(runs.log_tail(run.path, 40) or "(empty)", language=None)
with right:
    models = charts.models_with_results(run.results)
    if not models:
        st.caption("No test results: the run did not finish.")
    else:
        which = st.radio("Test results of", models, format_func=charts.model_label, horizontal=True)
        report = run.results["test"][which]
        st.markdown(f"**Test accuracy {report['accuracy']:.2%}** on {report.get('n', '?')} images "
                    f"(macro F1 {report.get('macro_f1', 0):.3f})")
        st.plotly_chart(charts.confusion_figure(report["confusion_matrix"]), key="confusion")
        st.dataframe(charts.per_class_frame(report), hide_index=True)

st.subheader("Compare runs")
chosen = st.multiselect("Runs to compare", [r.name for r in all_runs], default=[r.name for r in all_runs[:2]],
                        key="train_compare_runs", help="Runs side by side: curves, metrics, confusions.")
compared = [r for r in all_runs if r.name in chosen]
if len(compared) >= 2:
    k1, k2 = st.columns(2)
    k1.plotly_chart(run_compare.curves_overlay(compared, "val_accuracy"), key="compare_val_acc")
    k2.plotly_chart(run_compare.curves_overlay(compared, "val_loss"), key="compare_val_loss")
    st.dataframe(run_compare.metrics_table(compared), key="compare_table")
    diff = run_compare.confusion_difference(compared[0], compared[1])
    if diff is None:
        st.caption(f"No confusion difference: '{compared[0].name}' or '{compared[1].name}' has no test "
                   "results.")
    else:
        st.plotly_chart(run_compare.difference_figure(diff, compared[0].name, compared[1].name),
                        key="compare_confusion_diff")
else:
    st.caption("Pick two or more runs to compare them.")

active = active_model()
st.subheader("Model in use")
st.caption(active.label)
c1, c2 = st.columns(2)
if c1.button(f"Promote '{run.name}'", disabled=not run.promotable, type="primary",
             help="Use this run's TFLite and Keras models on every page (finished, exported runs)."):
    try:
        st.session_state[state.TRAIN_NOTICE] = ("success", f"The app now uses {promote_run(run.path).label}.")
        st.rerun()
    except EuroSATError as exc:
        st.error(str(exc))
if not run.promotable:
    c1.caption("Only a finished run with exported TFLite models can be promoted.")
if c2.button("Revert to the shipped model", disabled=active.source == "shipped"):
    st.session_state[state.TRAIN_NOTICE] = ("success", f"The app now uses {revert_to_shipped().label}.")
    st.rerun()
