"""The Q&A-style fixture pairs (fixtures/qa/, and issue 10's Keras sets fixtures/qa_keras/ and
fixtures/qa_wild_keras/, the held-out torch/Lightning/HF/JAX set fixtures/qa_wild/ and the
mixed-framework held-out set fixtures/qa_fresh/, the Keras-heavy held-out batch fixtures/qa_heldout/ and
the broad batch of small programs fixtures/qa_small/, the forum-style batch fixtures/qa_real/ and
the other-loggers batch fixtures/qa_fresh21/, the beginner-style batch fixtures/qa_fresh22/ and the
intermediate-practitioner batch fixtures/qa_fresh23/, the new-task-shapes batch fixtures/qa_fresh24/
(forecasting, autoencoders, seq2seq, segmentation, multi-input, scikit-learn MLPs), the
real-logger-habits batch fixtures/qa_fresh26/ (Lightning/HF/mlflow/wandb/tqdm/Keras stdout logs)
the second forum-style batch fixtures/qa_real26/ and the third, fixtures/qa_real27/, and the
new-loggers / new-task-shapes batch fixtures/qa_fresh27/ (logging, Keras progress bars, np.save,
nested JSONL; GANs, VAEs, char LMs, triplet embeddings) and the late batch fixtures/qa_fresh28/
(np.savez, torch.save, history dict repr, MLflow SQLite, a JSON array, headerless CSV) and the
beginner-logger batch fixtures/qa_fresh33/ (own print formats, tqdm files, hand CSVs with a header,
odd TensorBoard tags, Lightning/Keras CSVLogger; adapters with default arguments) and the
fourth forum-style batch fixtures/qa_real33/ (real threads' loops: tutorial prints, tqdm, TensorBoard
tags, Lightning/Keras CSVLogger, a hand CSV with header) and the JAX/Keras-3-heavy batch
fixtures/qa_fresh34/ (flax linen/nnx loops, Keras on the JAX and torch backends, tensorboardX,
tf.summary, trainer_state.json by hand, Lightning CSVLogger, tqdm lines), and the fifth forum-style batch
fixtures/qa_real34/ (Keras History dumped with np.save, Normalization.adapt, custom train_step; torch
tutorial loops), and the other-loggers / other-tasks batch fixtures/qa_fresh35/ (MLflow file store, wandb offline,
HF Trainer state, Lightning CSV+TensorBoard, pickled Keras History; multi-label, unscaled regression targets,
imbalanced binary, token-id text, autoencoders, 1-D conv/GRU series, fine-tuning), and the sixth forum-style batch fixtures/qa_real35/ (Keras fit with the traindx callback,
custom GradientTape loops, a range-test scheduler left in; torch loops with tqdm, TensorBoard odd tags,
a hand CSV with header, Lightning CSVLogger; a JAX Recorder loop), and the seventh forum-style batch fixtures/qa_real36/ (Keras fit with the traindx
callback in 6 of 9 Keras pairs, a GradientTape loop; torch tutorial loops with print, tqdm, odd TensorBoard
tags, a hand CSV with header, Lightning CSVLogger; a JAX Recorder loop), and the JAX/Keras-3/custom-loop batch
fixtures/qa_fresh36/ (flax linen/nnx with lax.scan and BatchNorm, Keras 3 on JAX/torch, tf.GradientTape
with tf.summary, torch.func, Lightning manual optimization; JSONL/CSV with odd keys, printed dicts),
and the unseen task-shapes batch fixtures/qa_fresh37/ (multi-label, imbalanced binary, ordinal, unscaled
price targets, forecasting windows, autoencoders, token tagging; HF Trainer, Lightning CSV+TensorBoard,
Keras 3 functional, flax linen/nnx; `logging` root lines, tqdm files, `|` lines, hand JSONL/CSV), and the
eighth forum-style batch fixtures/qa_real37/ (Keras fit with the traindx callback in 6 of 8 Keras pairs beside
CSVLogger / a JSON-dumped History; torch tutorial loops with print, tqdm, TensorBoard "Loss/train" tags, a hand CSV
with header; Lightning CSVLogger; HF Trainer printed log dicts), and the ninth forum-style batch
fixtures/qa_real38/ (Keras fit with the traindx callback in 6 of 8 Keras pairs beside CSVLogger / verbose=2 / a
JSON- or CSV-dumped History; torch loops with own prints, tqdm postfix, TensorBoard "train/loss_epoch" and
"metrics/f1_micro" tags, a hand CSV with header; Lightning CSVLogger; HF trainer_state.json), and the
unseen task-shapes batch fixtures/qa_fresh38/ (siamese pairs, toy seq2seq, distillation, config-built fine-tuning, two-headed models,
padded GRU, gradient accumulation, weighted sampler; MLflow file store, W&B offline, tensorboardX, Lightning
step/epoch CSV, tab/fastai tables, nested JSONL, Keras verbose=2, trainer_state.json), and the tenth
forum-style batch fixtures/qa_real39/ (Keras fit with the traindx callback in 4 of 5 Keras pairs beside
CSVLogger / verbose=2 / a JSON-dumped History; torch loops with own prints, tqdm postfix, TensorBoard "Loss/train",
"train/loss_epoch" and "metrics/r2" tags, a hand CSV with header; Lightning CSVLogger; HF trainer_state.json; a
JAX Recorder loop), and the unseen
task-shapes batch fixtures/qa_fresh39/ (multi-label BCE, forecasting windows, Poisson counts, VAE, denoising and
sensor autoencoders, ordinal grades, tabular embeddings, token attention; `logging` root and timestamped lines,
add_scalars, pandas prints/CSV, a JSON dict of lists, tqdm-style file lines, MLflow file store, W&B offline),
and the eleventh forum-style batch fixtures/qa_real40/ (Keras fit with the traindx callback in 4 of 6 Keras pairs
beside CSVLogger / a JSON-dumped History, a GradientTape loop with prints; torch TensorBoard tags with spaces, tqdm
postfix, a hand CSV, prints; Lightning CSVLogger; HF trainer_state.json; a JAX Recorder loop),
and the unseen breadth batch fixtures/qa_fresh40/ (iris, wine-quality, diabetes, breast cancer, Gaussian quantiles,
8-class blobs, synthetic shapes/glyph images, sine sequences, AR series, credit grades; CNN, vanilla RNN, residual
MLP, BatchNorm, tiny GPT-2; SGD, RMSprop, AdamW, Adagrad; Keras on TF, JAX and torch backends; a `logging` file,
JSONL, SummaryWriter, tensorboardX, tf.summary, Keras TensorBoard/CSVLogger/History JSON, LambdaCallback prints,
csv.DictWriter, Lightning CSVLogger, MLflow file store, W&B offline, trainer_state.json),
and the StackOverflow-style Keras batch fixtures/qa_keras40/ (12 Keras 3 programs whose log is their own stdout: fit's
verbose=1 progress bars with backspaces, carriage returns and ANSI codes or verbose=2 lines, beside summary()/evaluate()/history prints;
the traindx callback in 8), and its second unseen batch fixtures/qa_keras41/ (12 more: Dropout(0.99), x**4 targets,
LSTM/SimpleRNN series, a frozen functional model, 5-class imbalance, double softmax, SGD lr 0.8 Conv2D; callback in 8),
and its third unseen batch fixtures/qa_keras48/ (10 pairs in the shape of StackOverflow "my Keras model does not learn"
questions on pandas-read CSV tables and series, 6 TensorFlow, 2 JAX and 2 torch backends: LSTM(activation='relu')
windows, a hand-written BCE without clipping, eight sigmoid hidden layers, steps_per_epoch=2 on a generator,
RandomNormal(stddev=5) tanh init, Dense(1, softmax), raw sales units into an LSTM, Adam epsilon=1, a Dense(2) hidden
layer on three spirals, labels taken by position after df.sample; loggers CSVLogger, TensorBoard callback, History to
JSON/CSV, verbose=2 stdout; callback in 5),
and its fourth unseen batch fixtures/qa_keras49/ (10 more StackOverflow-shaped Keras 3 pairs, 6 TensorFlow, 2 JAX, 2
torch backends: to_categorical labels broadcast by a hand-written BCE against a one-unit sigmoid, a single Dense(1) on a
target with no linear part with accuracy as the metric, an untrained base built from code and frozen, validation_data
left unscaled, 160 reviews for an Embedding classifier, a hand RMSLE on a standardized target, a hand categorical
crossentropy without its minus sign, class_weight from the class shares, a torch train_step that never applies the
optimizer, a Flatten/Dense(256) Conv1D head trained 150 epochs; CSVLogger, TensorBoard callback, History to JSON/CSV,
verbose=2 stdout; callback in 5),
and its fifth unseen batch fixtures/qa_keras50/ (10 more StackOverflow-shaped Keras 3 pairs, 6 TensorFlow, 2 JAX, 2
torch backends: a last LSTM left with return_sequences=True broadcast by MSE against a (N, 1) target, read_csv(nrows=100)
left in before a Dense(1024) MLP, kernel_initializer='zeros' on a regression MLP, a torch train_step without
self.zero_grad(), a Monte-Carlo dropout subclass left on at evaluation, optimizer='adagrad' at Keras 3's default 0.001,
NaN targets in the rows validation_split takes, UCI wine classes 1..3 against 3 softmax units on JAX, Adam at
learning_rate=1.0, batch_size=len(X); CSVLogger, TensorBoard callback, History to JSON/CSV, verbose=2 stdout;
callback in 5),
and the unseen breadth batch fixtures/qa_fresh41/ (wine, digits 0-4, make_friedman1/2, swiss roll, S-curve,
make_hastie_10_2, synthetic topic/forum tokens and seasonal series; 1D CNN, SimpleCell RNN, Embedding+meanpool, tiny BERT,
LayerNorm and BatchNorm/Dropout MLPs; SGD Nesterov, Adam amsgrad, Lion, AdamW, OneCycle, cosine warmup, ReduceLROnPlateau,
ExponentialDecay; tensorboardX, csv.writer, JSONL, print files, Keras TensorBoard/CSVLogger/History JSON/LambdaCallback,
Lightning CSVLogger, MLflow file store, W&B offline, trainer_state.json),
and the unseen console batch fixtures/qa_wild41/ (12 torch / Lightning / HF / JAX programs whose log is their own
console: own prints in varied formats, tqdm bars with postfix on stderr, `logging` lines with timestamps and a
warning, Lightning's TQDM and Rich progress bars, HF Trainer's printed log dicts and metrics blocks; an adapter in 4),
and the twelfth forum-style batch fixtures/qa_real41/ (Keras fit with the traindx callback in 5 of 7 Keras pairs beside
CSVLogger / verbose=2 / a JSON-dumped History, a GradientTape loop with prints; torch prints, a hand CSV, TensorBoard
"Loss/train (epoch)" tags; Lightning CSVLogger; HF trainer_state.json; a JAX Recorder loop),
and the thirteenth forum-style batch fixtures/qa_real42/ (Keras fit with the callback in 6 of 7 Keras pairs beside
CSVLogger (one with separator=";") / verbose=2 / a JSON-dumped History, a GradientTape loop with prints; torch prints in
the MNIST-example format, a hand CSV with an lr column, tqdm postfix, TensorBoard numbered tags; Lightning CSVLogger;
HF trainer_state.json; a JAX Recorder loop)
and the fourteenth forum-style batch fixtures/qa_real43/ (Keras fit with the callback in 5 of 6 Keras pairs beside
CSVLogger / verbose=2 / a JSON-dumped History, a GradientTape loop with prints; torch TensorBoard "Loss/Train-Epoch"
tags, a ";"-separated hand CSV, prints with percent accuracy, tqdm postfix with miniters; Lightning CSVLogger with step
and epoch columns; HF trainer_state.json; a JAX Recorder loop)
and the fifteenth forum-style batch fixtures/qa_real44/ (Keras fit with the callback in 6 of 7 Keras pairs beside
CSVLogger / verbose=2 / a JSON-dumped History / a pandas-CSV History / the Keras TensorBoard callback, a GradientTape
loop with quickstart-style prints; torch TensorBoard tags with spaces ("training loss"), a csv.writer CSV, prints in
the MS Learn format, tqdm postfix; Lightning TensorBoardLogger; HF report_to tensorboard; a JAX Recorder loop with JSONL)
and the sixteenth forum-style batch fixtures/qa_real45/ (Keras fit with the callback in 6 of 7 Keras pairs beside
CSVLogger / verbose=2 / a JSON-dumped History / a pandas-CSV History / the Keras TensorBoard callback / a LambdaCallback
print, a GradientTape loop over tf.data with quickstart-style prints; torch prints "Epoch [3/30], Loss:", TensorBoard
add_scalars, tqdm postfix + tqdm.write, a hand CSV with an lr column; Lightning CSVLogger; HF trainer_state.json; a JAX
Recorder loop with prints)
and the seventeenth forum-style batch fixtures/qa_real46/ (14 pairs: Keras fit with the callback in 6 of 7 Keras pairs
beside verbose=2 / a JSON-dumped History / CSVLogger / a pandas-CSV History / a LambdaCallback print, a GradientTape
loop with step prints; torch "Epoch 3 | train loss" prints, TensorBoard tags with spaces and parentheses, a csv.writer
CSV, logging with asctime; Lightning CSVLogger; HF trainer_state.json; a JAX Recorder loop with prints)
and the eighteenth forum-style batch fixtures/qa_real47/ (14 pairs: Keras fit with the callback in 6 of 7 Keras pairs
beside CSVLogger (2) / a JSON-dumped History / a pandas-CSV History / a LambdaCallback pipe print / verbose=2, a
GradientTape loop with epoch prints; torch "Epoch no. 3 Train Loss:" prints, TensorBoard slash tags, a hand CSV,
tqdm postfix + tqdm.write; Lightning CSVLogger; HF trainer_state.json; a JAX Recorder loop with prints)
and the nineteenth forum-style batch fixtures/qa_real48/ (12 pairs, causes away from qa_real47's: Keras fit with the
callback in 4 of 6 Keras pairs beside a JSON-dumped History / TensorBoard callback / CSVLogger / verbose=2, plus
verbose=2 and CSVLogger without it; torch print lines and csv.writer with the Monitor, SummaryWriter, JSONL; Lightning
CSVLogger; HF trainer_state.json)
and the twentieth forum-style batch fixtures/qa_real49/ (12 pairs, causes away from qa_real47/48's: Keras fit with the
callback in 3 of 5 Keras pairs beside CSVLogger / a JSON-dumped History / verbose=2, plus the TensorBoard callback and
a pandas-CSV History without it; torch print lines and JSONL with the Monitor, SummaryWriter, csv.writer; Lightning
CSVLogger and TensorBoardLogger; HF trainer_state.json)
and the twenty-first forum-style batch fixtures/qa_real50/ (12 pairs, the twelve causes qa_real48/49 did not use:
Keras fit with the callback in 3 of 4 Keras pairs beside CSVLogger / the TensorBoard callback / a JSON-dumped History,
plus verbose=2 without it; torch logging file and JSONL with the Monitor, csv.writer, SummaryWriter; Lightning
TensorBoardLogger and CSVLogger; HF trainer_state.json; a flax.linen loop with a text log)
and the mixed unseen batch fixtures/qa_mixed41/ (11 pairs: 5 torch incl. 1 Lightning, 3 flax.linen, 3 Keras 3 on
TF/JAX; adapters in 9; SummaryWriter, print .log/.txt, W&B offline, csv.writer, tensorboardX, JSONL, Keras
TensorBoard/CSVLogger/History JSON, Lightning CSVLogger)
and the second mixed unseen batch fixtures/qa_mixed42/ (12 pairs: 5 torch incl. 1 Lightning, 3 flax.linen, 3 Keras 3,
1 HF Trainer; adapters in 9; MLflow file store, JSONL, print .log/.txt, csv.writer/DictWriter, Keras
TensorBoard/CSVLogger, Lightning CSVLogger, HF report_to tensorboard)
and the third mixed unseen batch fixtures/qa_mixed43/ (12 pairs: 5 torch incl. 1 Lightning, 3 flax.linen, 3 Keras 3,
1 HF Trainer; adapters in 9; tensorboardX, csv.writer, print .log/.txt, JSONL, Lightning TensorBoardLogger, W&B
offline, Keras TensorBoard/CSVLogger/History JSON, HF trainer_state.json)
and the fourth mixed unseen batch fixtures/qa_mixed44/ (12 pairs: 5 torch incl. 1 Lightning, 3 flax.linen, 3 Keras 3,
1 HF Trainer; adapters in 9; csv.writer, SummaryWriter, print .log, MLflow file store, Lightning CSVLogger,
tensorboardX, JSONL, Keras CSVLogger/History JSON/TensorBoard, HF trainer_state.json)
and the fifth mixed unseen batch fixtures/qa_mixed45/ (12 pairs: 5 torch incl. 1 Lightning, 3 flax.linen, 3 Keras 3,
1 HF Trainer; adapters in 9; JSONL, print .txt, tensorboardX, SummaryWriter, Lightning CSVLogger, csv.writer,
logging .log, MLflow file store, Keras History JSON/TensorBoard/CSVLogger, HF trainer_state.json)
and the sixth mixed unseen batch fixtures/qa_mixed46/ (12 pairs: 5 torch incl. 1 Lightning, 2 flax.linen + 1 flax nnx,
3 Keras 3, 1 HF Trainer; adapters in 9; csv.writer, SummaryWriter, JSONL, print .txt/.log, Lightning CSVLogger +
LearningRateMonitor, W&B offline, tensorboardX, Keras CSVLogger, History via pandas to_csv, tf.summary, trainer_state.json)
and the seventh mixed unseen batch fixtures/qa_mixed47/ (12 pairs: 4 torch + 1 Lightning, 2 flax.linen + 1 flax nnx,
3 Keras 3, 1 HF Trainer; adapters in 9; SummaryWriter, JSONL, print .log/.txt, tensorboardX, Lightning CSVLogger +
LearningRateMonitor, csv.writer, W&B offline, Keras CSVLogger/History JSON/TensorBoard, trainer_state.json)
and the eighth mixed unseen batch fixtures/qa_mixed48/ (10 pairs: 4 torch + 1 Lightning, 1 flax.linen + 1 flax nnx +
1 equinox, 2 Keras 3 on TF (custom train_step) and torch; adapters in 9; print .log, SummaryWriter, tensorboardX,
csv.writer, print .txt, logging file, numpy.savetxt CSV, Keras CSVLogger/History JSON, Lightning CSVLogger)
and the ninth mixed unseen batch fixtures/qa_mixed49/ (12 pairs: 4 torch + 1 Lightning, flax.linen + flax nnx +
equinox + plain JAX with optax.chain, 3 Keras 3 on TF (custom train_step), JAX (functional two-head) and torch;
adapters in 10; tensorboardX, csv.DictWriter, json.dump history, JSONL, pandas CSV, print .log, csv.writer, Keras
TensorBoard/CSVLogger/History JSON, Lightning TensorBoardLogger)
and the tenth mixed unseen batch fixtures/qa_mixed50/ (12 pairs: 3 torch Monitor loops (gradient accumulation with a
per-micro-batch StepLR, torch.func.functional_call, a weight-shared block) + 1 torch SummaryWriter + 1 Lightning,
flax.linen TrainState + flax nnx + equinox + plain JAX with optax.MultiSteps, 3 Keras 3 on TF (subclassed model with
its own train_step), JAX (custom Layer) and torch; adapters in 10; csv.writer, JSONL, print .log, json.dump history,
csv.DictWriter, tensorboardX, hand-written CSV, Keras CSVLogger/History JSON/LambdaCallback JSONL, Lightning
CSVLogger, SummaryWriter)
and the unseen console batch fixtures/qa_wild42/ (12 torch / Lightning / HF / JAX programs whose log is their own
console: percentages and `correct 431/500` fractions, losses every N batches plus an epoch summary, ETA/time columns,
scientific notation, ANSI/rich colour codes, a pandas DataFrame of the history, `logging` timestamps, tqdm postfix,
Lightning TQDM bars, HF printed dicts with `log_level="info"` and tqdm-interleaved dicts; an adapter in 4)
and the beginner-style batch fixtures/qa_begin42/ (12 notebook-style pairs: 6 torch, 1 raw-tensor autograd, 4 Keras 3,
1 flax; pandas to_csv / json.dump histories with keys like 'Train Loss', 'Val Acc (%)', 'trainLoss', 'valid_err',
'cost', 'score', 'J' keyed by a global step, summed costs, error rates, one CSV per k-fold fold; adapters in 4)
and the second beginner-style batch fixtures/qa_begin44/ (12 notebook-style pairs: 6 torch, 1 raw-tensor autograd,
4 Keras 3, 1 flax; per-batch 'global_step','batch_loss' beside an epoch CSV, summed 'J'/'cost', 'score', 'R2',
'valid_err', a {'loss','val','err'} results dict, one JSON per k-fold fold, 'J_train'/'J_val', 'loss_train'/
'loss_valid', 'accuracy_test', 'Val Recall (%)'; adapters in 4)
and the third beginner-style batch fixtures/qa_begin45/ (12 notebook-style pairs: 6 torch, 1 raw-tensor autograd,
4 Keras 3, 1 flax; per-batch 'iteration','trainLoss' rows with an epoch 'valid_err', {'loss','val','acc'},
'Val Acc (%)', a pandas to_json of {'J','acc_test'} keyed by a batch counter, a LambdaCallback list of per-batch
'cost' and per-epoch 'accuracy_test' dicts, 'cost'/'test_cost'/'score'; adapters in 4)
and the fourth beginner-style batch fixtures/qa_begin46/ (12 notebook-style pairs: 6 torch, 1 raw-tensor autograd,
4 Keras 3, 1 flax; 'Epoch','train_cost','valid_err','lr' dict, a hand-written CSV per k-fold fold, 'Val Acc (%)',
a list of {'epoch','lr','trainLoss','testLoss','accuracy_test'} records, a summed 'Loss' with 'Error Rate (%)' and
'Recall (%)', {'loss','test_acc'} keyed by a batch counter, 'J'/'J_val', 'Test Loss'/'Test Acc (%)', Keras history
CSVs per fold, 'cost'/'accuracy'/'cost_val'/'accuracy_val', 'J'/'J_test'/'score'; adapters in 4)
and the fifth beginner-style batch fixtures/qa_begin47/ (12 notebook-style pairs: 6 torch, 1 raw-tensor autograd,
4 Keras 3, 1 flax; a json dict keyed by the epoch number {'1': {'l','a'}}, np.save + headerless np.savetxt,
'train_mse','mse','rmse','mae','r2', train.csv + val.csv, 'Loss/Train','loss (val)', a CSV appended by two runs
with a 'correct' fraction string ('107/143'), a '#'-header np.savetxt, 'it','cost_train','cost_dev','acc_tr',
'acc_dev', 'val_correct' fractions, np.savez -> CSV 'top1'/'val_top1' without an epoch column, the tutorial's
'[1,    50] loss: 2.301' text log, a tab-separated 'top1'; adapters in 4)
and the sixth beginner-style batch fixtures/qa_begin48/ (12 notebook-style pairs with `# In[n]:` cells: 5 torch,
1 raw-tensor autograd RNN, 4 Keras 3, 1 flax.linen, 1 plain JAX; Spanish / German / French names ('perdida',
'precision_val' as np.save arrays, 'Verlust'/'Genauigkeit', 'perte'/'perte_val'/'exactitude_val' with an unnamed
pandas index), 'J_history'/'J_val', camelCase 'trainLoss'/'TrainingAccuracy', 'ep,tr_l,va_l,va_a', old-Keras
'acc'/'val_acc' (pickled + json), 'costo'/'error_abs', 'cost_history'/'val_cost_history' from a LambdaCallback,
'iteration','J','score' with empty cells, 'cost_history'/'val_cost' with every tenth cell filled; adapters in 4)
and the seventh beginner-style batch fixtures/qa_begin49/ (12 notebook-style pairs with `# In[n]:` cells leaning to
the rarer causes: 5 torch (nn.Sequential x2, a class x3), 1 raw-tensor autograd model, 4 Keras 3, 1 flax.linen,
1 plain JAX; 'losses'/'val_losses'/'train_accs' in a json, `history_df.to_csv` with 'Train Loss'/'Valid Loss'/
'Train Acc.', 'mse'/'rmse'/'mae' only, 'epoch_loss_list', a dict of dicts {'train': {'loss','mae'}, ...}, Japanese,
Russian and Chinese column names, a pickled History.history, 'cost'/'error_rate', 'loss_tr'/'loss_te' (test as
validation), one .npy per metric; adapters in 4)
and the eighth beginner-style batch fixtures/qa_begin50/ (12 notebook-style pairs with `# In[n]:` cells leaning to
the rarer causes: 5 torch (nn.Sequential x2, a class x3), 1 raw-tensor autograd model, 4 Keras 3, 1 flax.linen,
1 plain JAX; a camelCase 'epoch,trainLoss,testLoss,trainAcc,testAcc' csv, 'l'/'vl'/'a'/'va' in a json, accuracy in
percent, a `log.txt` appended per epoch, 'score' meaning R^2, 'f1'/'auc' for a binary task, a History DataFrame
with its 'learning_rate' column, German (sep ';', decimal ','), Korean and Portuguese column names, np.savetxt with
a '# ' header, the loss per batch with the epoch repeated; adapters in 4)
and the JAX-side unseen batch fixtures/qa_jax42/ (12 pairs: 5 flax.linen, 2 flax.nnx, 2 plain JAX pytrees,
3 Keras 3 on JAX; adapters in 9; csv.writer, JSONL, tf.summary, MLflow file store, tensorboardX, print/logging
files, csv.DictWriter, a flax-tutorial metrics_history JSON, Keras CSVLogger/TensorBoard/LambdaCallback)
and the unseen breadth batch fixtures/qa_fresh42/ (12 pairs: breast cancer, diabetes, spirals, multi-label,
digits 16x16, Gaussian quantiles, make_regression 60f, damped oscillation, 24 blobs, sparse-uncorrelated, XOR bits,
keyword posts; NAdam, Adagrad, Adamax, AdaBelief, SGDR, LinearLR, StepLR; adapters in 7)
and the second unseen console batch fixtures/qa_wild43/ (12 torch / Lightning / HF / JAX programs whose log is their own
console: a tqdm bar over epochs with `|` lines and percentages, Keras-like ETA/time lines, `[INFO] HH:MM:SS key=value`
logging, `train 147/1437  val 35/360` fractions in scientific-notation lines, the Udacity char-RNN `Epoch: 1/12...
Step: 10... Loss: ...` habit, tqdm postfix with a percentage, Lightning TQDM bars, HF tqdm console and printed dicts,
`val 36/360 correct (10.0%)`, a pandas DataFrame printed at the end; an adapter in 4)
and a second JAX-side unseen batch fixtures/qa_jax43/ (12 pairs: 5 flax.linen, 2 flax.nnx, 2 plain JAX pytrees,
3 Keras 3 on JAX; adapters in 9; JSONL, tensorboardX, MLflow file store, a tee'd print log, csv.writer, tf.summary,
csv.DictWriter, a JSON-lines Keras callback, CSVLogger with ';', LambdaCallback print log)
and the unseen breadth batch fixtures/qa_fresh43/ (12 pairs: 20x20 shapes ResNet, heteroscedastic NLL, multi-task
heads, noisy digits, bag-of-words EmbeddingBag, ordinal star ratings, iris one-hot, bit counts, redundant-feature
make_classification, AR(2) dilated CNN, IRNN, token tagging; RAdam, Adadelta, LAMB, CyclicLR; adapters in 6)
and the unseen breadth batch fixtures/qa_fresh44/ (12 pairs: 5-class categorical-embedding tabular, accelerometer
windows GRU + attention and Conv1D across two devices, sort task TransformerEncoder, moons with raw nuisance columns,
28x28 numpy stroke digits separable CNN, breast cancer ratio features, log-normal days-to-failure, char-level grammar
GRU, Poisson counts, nnx dropout MLP, tiny BERT from a config; NAdam, Adagrad, Adamax, AdaBelief, centered RMSprop,
LambdaLR warm-up; adapters in 6)
and the unseen breadth batch fixtures/qa_fresh45/ (12 pairs: wine degree-2 polynomial features into a LayerNorm
residual MLP, trend + two-seasonality series with a dilated Conv1D, 8-tag multi-label, numpy 32x32 shapes with a
Conv-BN-GAP CNN and a tiny nnx ViT, make_classification 100/8 SELU MLP, generated bag-of-words sentiment, diabetes
log target sorted before validation_split, 5 ordinal grades, digits autoencoder, 10 %-missing imputed tabular,
tiny DistilBERT spam; RAdam + OneCycleLR, RMSprop momentum, Nadam, Adadelta, step halving, optax.lion,
warmup-cosine; adapters in 6)
and the unseen breadth batch fixtures/qa_fresh46/ (11 pairs: swiss-roll position regression, ECG-like rhythms with a
GRU + attention pooling, iris with 20 noise columns into a GLU MLP, 16x16 numpy glyph letters twice (strided CNN in
Lightning, nnx denoising encoder-decoder), linnerud multi-output, 12-centre blobs, wide & deep with a 1,000-level
store id, sensor anomaly autoencoder, generated-grammar LSTM tagger, tiny BERT tickets; SGD momentum 0.99 +
MultiStepLR, CyclicLR, AdamW amsgrad, ReduceLROnPlateau patience 0, PolynomialDecay power 2, Nadam, optax.yogi,
optax.rmsprop; adapters in 5)
and the unseen breadth batch fixtures/qa_fresh47/ (12 pairs: wine with two columns x1000 into a DenseNet-like concat
MLP, 4-class Gaussian quantiles with LayerNorm + dropout, AR(1) random-walk direction with a bidirectional GRU, 12x12
stroke digits with a depthwise-separable CNN in Lightning, diabetes log target, noisy moons twice (ReLU MLP, nnx
mixture of experts), generated bag-of-words sentiment, 5-tag multi-label, star ratings with a 2-layer Transformer
encoder, siamese blob pairs, tiny DistilBERT complaints; Adagrad + StepLR, RMSprop momentum + OneCycleLR, Adam
betas (0.5, 0.9) + LinearLR warm-up, CosineAnnealingWarmRestarts, Adamax + InverseTimeDecay, optax.lamb,
optax.adafactor + warmup_exponential_decay_schedule, optax.sgd Nesterov 0.95, HF linear warm-up; adapters in 6)
and the unseen breadth batch fixtures/qa_fresh48/ (12 pairs leaning to the rarer causes: friedman1 into a SIREN,
swiss-roll autoencoder, breast-cancer mean columns into a highway net, hastie_10_2 with a 3 x 512 MLP in Lightning,
iris with a batch-axis softmax, a churn table with embeddings (wide & deep), a 4 x 4 checkerboard, friedman3 into a
GLU MLP, friedman2 with a mean/log-variance head, a seasonal series into an nnx TCN, waveform frequencies into an
equinox Elman RNN, tiny BERT keyword counts; NAdam eps 1, SGD + CyclicLR, AdamW amsgrad, RAdam + ReduceLROnPlateau,
Nadam, Lion, Adam + PolynomialDecay, AdamW, optax.yogi, optax.novograd, optax.sgd momentum, HF linear decay;
tensorboardX, SummaryWriter, csv.DictWriter, Lightning TensorBoardLogger, Keras CSVLogger / TensorBoard, pandas
to_csv, JSONL, MLflow file store, tf.summary, np.savez, trainer_state.json; adapters in 6)
and the unseen breadth batch fixtures/qa_fresh49/ (12 pairs leaning to the rarer causes: diabetes into a 12-layer
narrow ReLU MLP, 12 blobs into a maxout MLP, 5-level ordinal ratings with a cumulative-logit head on a bilinear layer,
6-tag multi-label in Lightning, blob sequences tagged by a 1x1-conv net, 8x8 digit images into a separable CNN,
make_classification into a mixture of experts, a sine-mixture series into a GRU, 15 blobs into a tanh MLP, sparse
uncorrelated regression into an nnx MLP, low-rank-matrix regression with hand-written gradient accumulation, tiny
BERT alert-token sequences; SGD Nesterov, Adagrad, Adamax, Adam, RMSprop centered, AdamW, Keras Adafactor,
optax.lamb, optax.adafactor, optax.sgd, HF AdamW cosine; logging FileHandler, SummaryWriter.add_scalars,
np.savetxt, Lightning MLFlowLogger, Keras CSVLogger with ";", Keras TensorBoard, history json.dump, a LambdaCallback
text log, pandas TSV, W&B offline, a pipe-separated text log, trainer_state.json; adapters in 6)
and the unseen breadth batch fixtures/qa_fresh50/ (12 pairs leaning to the rarer causes: digits into a weight-tied
autoencoder with SGD dampening 0.99, sawtooth windows into an IRNN without clipping, make_s_curve into a highway MLP with
an (N,1)-vs-(N,) loss, binarized digits into a Lightning VAE with a hand-written BCE, 16x16 synthetic shapes with a
per-image standardization dividing blank images by zero, make_circles into 2-unit layers, a digits autoencoder for 3
epochs, make_hastie_10_2 on 60 rows, 28-character sequences with log_softmax over the batch, noisy moons into an
unregularized nnx 3 x 512 MLP, discarded optax.apply_updates, a tiny DistilBERT whose loss is the un-negated
log-likelihood; ASGD, SGD momentum, Nadam, Lion, Adamax, adabelief, radam, yogi; torch.save, an MMEngine-style
text log, a JSON array, TensorBoardLogger, a JSONL callback, CSVLogger, np.save, pandas to_json, tensorboardX, pickle,
a step-colon text log, HF TensorBoard; adapters in 6)
and the third unseen console batch fixtures/qa_wild44/ (12 torch / Lightning / HF / JAX programs whose log is their own
console: `logging` asctime lines, per-epoch confusion matrices with `correct 3536/4000` fractions, ANSI colour codes,
`[epoch 2 | batch 40/63] mse 3.412e+00` plus epoch summaries with ETA, `it 0125 loss ... grad_norm ...` in scientific
notation (a `.out` file), tqdm postfix with the LR and a pandas DataFrame, Lightning TQDM bars with the test-metrics
table, HF dicts with `[INFO|trainer.py:...]` logging and with a tqdm bar, an ASCII box table, `val correct 249/480`;
an adapter in 4)
and a third JAX-side unseen batch fixtures/qa_jax44/ (10 pairs: 4 flax.linen, 2 flax.nnx, 2 plain JAX pytrees,
2 Keras 3 on JAX; adapters in 8; csv.writer, JSONL, tensorboardX, csv.DictWriter, MLflow file store, a print log,
tf.summary, `logging` lines, a LambdaCallback JSON-lines log, CSVLogger)
and the fourth unseen console batch fixtures/qa_wild45/ (12 torch / Lightning / HF / JAX programs whose log is their own
console: `train correct 2093/2500` fractions, `logging` asctime lines with percentages, `[ep 1 | it 10] loss 1.69e+00`
every 10 batches plus epoch summaries, ANSI colour lines with lr / s-per-epoch / ETA, a pandas DataFrame printed only at
the end, per-epoch tqdm bars with percent postfix, Lightning TQDM bar + validate table and RichProgressBar + printed
metric dicts, HF dicts without tqdm + the eval metrics block and with tqdm, JAX step prints in scientific notation and
ANSI percent lines; an adapter in 4)
and the fifth unseen console batch fixtures/qa_wild46/ (12 torch / Lightning / HF / JAX programs whose log is their own
console: `ep 3 | tr 0.512 | va 0.604` pipes, `logging` levelname lines with per-class accuracy lines, raw tensors
printed with grad_fn, a header row with aligned columns, pytorch-kaldi `ep=00 tr=[...] loss= mae=` lines with an early
stop message, tqdm postfix plus `loss=[0.51] acc 0.87 (best 0.88)`, Lightning TQDM bars (one with an lr column), HF
dicts with tqdm and without tqdm + the eval metrics block, JAX prints with interleaved UserWarnings and loss / accuracy
on separate lines; an adapter in 4)
and the sixth unseen console batch fixtures/qa_wild47/ (12 torch / Lightning / HF / JAX programs whose log is their own
console: `Epoch [3/25], Step [20/40], Loss:` step lines plus an epoch summary, a printed dict per epoch, `epoch=3,
loss=..., acc=...` key=value pairs with commas, scientific-notation `iter` / epoch lines, hand-written Keras-like
progress lines, Markdown table rows, Lightning TQDM bars, HF dicts with tqdm and with run_glue-style time-stamped info
logging, JAX `logging` lines with a custom time-stamped format and a rich table printed at the end; an adapter in 4)
and the seventh unseen console batch fixtures/qa_wild48/ (12 torch / Lightning / HF / accelerate / JAX / Keras
programs whose log is their own console: ignite-style `Epoch[3] Iteration[50/660] Loss:` lines, `logging` with level
names in brackets, fixed-width `|` columns with a header printed once, percentages with validation every 10 epochs,
loguru-like lines, Lightning YAML-like blocks and tab-separated rows, HF `pprint` of nested dicts, accelerate's logger
with the state block, JAX tqdm bars with `set_description` and tf.estimator-style INFO lines, Keras verbose=1 bars;
the torch Monitor in 2)
and the eighth unseen console batch fixtures/qa_wild49/ (12 torch / Lightning / HF / JAX / Keras programs whose log is
their own console: a fastai-style `epoch train_loss valid_loss r2_score time` table with a UserWarning, scikit-learn
MLP verbose `Iteration 12, loss = ...` / `Validation score:` lines, `print(f"{epoch=} {loss=:.4f}")` f-strings,
`[ep 3/25] train: loss=..., acc=... | val: loss=..., acc=...` brackets, a timestamp column table, Lightning TQDM bars
after a YAML config dump and with interleaved UserWarnings and a final `Test accuracy:` line, HF dicts with tqdm and
without tqdm + `Test accuracy:`, JAX dict reprs every 5th epoch and a rich box table in scientific notation, Keras
verbose=2 lines; the torch Monitor in 2)
and the ninth unseen console batch fixtures/qa_wild50/ (12 torch / Lightning / HF / JAX / Keras programs whose log is
their own console: Raschka-style `Epoch: 001/030 | Batch 0004/0012 | Cost:` lines, the PyTorch MNIST example's
`Train Epoch: 3 [320/1437 (22%)]<TAB>Loss:` and `Test set:` blocks, `logging` lines with bracketed keys, `[rank0]:`
prefixed step lines, JSON lines mixed with text, Lightning callbacks printing a multi-line epoch block and `==> epoch
3, ... val acc 81.20%` percent lines, HF dicts followed by a wandb-offline-style run summary, JAX loguru-layout lines
and per-step lines plus an epoch summary, a raw Keras verbose=1 terminal progress bar with its CR and BS redraws, a
Keras LambdaCallback block; the torch Monitor in 2)
and a fourth JAX-side unseen batch fixtures/qa_jax45/ (10 pairs: 4 flax.linen, 2 flax.nnx, 2 plain JAX pytrees,
2 Keras 3 on JAX; adapters in 8; csv.writer, a metrics-history JSON, tensorboardX, MLflow file store, tf.summary,
JSONL, a print log, csv.DictWriter, CSVLogger, Keras verbose=2 stdout)
and a fifth JAX-side unseen batch fixtures/qa_jax46/ (10 pairs: 4 flax.linen, 2 flax.nnx, 2 plain JAX pytrees,
2 Keras 3 on JAX; adapters in 8; JSONL, tf.summary, csv.writer, MLflow file store, tensorboardX, a print log,
a metrics-history JSON, csv.DictWriter, CSVLogger, a Keras history JSON)
and a sixth JAX-side unseen batch fixtures/qa_jax47/ (10 pairs: 4 flax.linen, 2 flax.nnx, 2 plain JAX pytrees,
2 Keras 3 on JAX; adapters in 8; csv.writer, tensorboardX, JSONL (x2), a print log, tf.summary, MLflow file
store, a metrics-history JSON, CSVLogger, a LambdaCallback JSONL)
and a seventh JAX-side unseen batch fixtures/qa_jax48/ (9 pairs: 4 flax.linen, 2 flax.nnx, 2 equinox, 1 plain JAX
pytree; adapters in 7; JSONL, tensorboardX, a logging file, csv.writer, MLflow file store, csv.DictWriter, a print
log, pandas to_csv, a metrics-history JSON)
and an eighth JAX-side unseen batch fixtures/qa_jax50/ (10 pairs: 3 flax.linen, 2 flax.nnx, 3 equinox, 2 plain JAX
pytrees; adapters in 7; tensorboardX (x2), JSONL (x2), a clu-style JSONL metrics writer, csv.writer, a print log,
a logging file, pandas to_csv, a key=value text log; rarer causes: overfitting, optimizer_choice, class_imbalance,
insufficient_data, softmax_wrong_axis, model_too_small, activation_on_output, numerical_instability,
exploding_gradients, batch_size_bad)
(each scored before any change):
labels follow the corpus contract, every pair is complete, every program names the public
thread it is modelled on.

Reads committed files only (the programs' META through ``ast``, label.json, index.json); the
programs themselves are run by hand with fixtures/qa/make_qa.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from traindx.causes import CAUSES

ROOT = Path(__file__).resolve().parent.parent
QA = ROOT / "fixtures" / "qa"
LOGS = QA / "logs"
sys.path.insert(0, str(QA))

from make_qa import read_meta  # noqa: E402

#: each set: its directory, the least number of pairs and of labelled runs
SETS = {"qa": (QA, 40, 60), "qa_keras": (ROOT / "fixtures" / "qa_keras", 30, 120),
        "qa_wild": (ROOT / "fixtures" / "qa_wild", 24, 48),
        "qa_wild_keras": (ROOT / "fixtures" / "qa_wild_keras", 24, 96),
        "qa_fresh": (ROOT / "fixtures" / "qa_fresh", 30, 110),
        "qa_heldout": (ROOT / "fixtures" / "qa_heldout", 24, 80),
        "qa_small": (ROOT / "fixtures" / "qa_small", 24, 80),
        "qa_real": (ROOT / "fixtures" / "qa_real", 20, 62),
        "qa_fresh21": (ROOT / "fixtures" / "qa_fresh21", 20, 54),
        "qa_fresh22": (ROOT / "fixtures" / "qa_fresh22", 20, 56),
        "qa_fresh23": (ROOT / "fixtures" / "qa_fresh23", 20, 56),
        "qa_fresh24": (ROOT / "fixtures" / "qa_fresh24", 22, 64),
        "qa_fresh26": (ROOT / "fixtures" / "qa_fresh26", 20, 58),
        "qa_real26": (ROOT / "fixtures" / "qa_real26", 21, 72),
        "qa_real27": (ROOT / "fixtures" / "qa_real27", 20, 68),
        "qa_fresh27": (ROOT / "fixtures" / "qa_fresh27", 20, 52),
        "qa_fresh28": (ROOT / "fixtures" / "qa_fresh28", 13, 34),
        "qa_fresh33": (ROOT / "fixtures" / "qa_fresh33", 18, 56),
        "qa_real33": (ROOT / "fixtures" / "qa_real33", 18, 54),
        "qa_fresh34": (ROOT / "fixtures" / "qa_fresh34", 16, 48),
        "qa_real34": (ROOT / "fixtures" / "qa_real34", 18, 60),
        "qa_fresh35": (ROOT / "fixtures" / "qa_fresh35", 18, 56),
        "qa_real35": (ROOT / "fixtures" / "qa_real35", 18, 58),
        "qa_real36": (ROOT / "fixtures" / "qa_real36", 16, 52),
        "qa_fresh36": (ROOT / "fixtures" / "qa_fresh36", 17, 50),
        "qa_fresh37": (ROOT / "fixtures" / "qa_fresh37", 16, 48),
        "qa_real37": (ROOT / "fixtures" / "qa_real37", 16, 50),
        "qa_real38": (ROOT / "fixtures" / "qa_real38", 16, 50),
        "qa_fresh38": (ROOT / "fixtures" / "qa_fresh38", 17, 50),
        "qa_real39": (ROOT / "fixtures" / "qa_real39", 16, 50),
        "qa_fresh39": (ROOT / "fixtures" / "qa_fresh39", 16, 40),
        "qa_real40": (ROOT / "fixtures" / "qa_real40", 14, 44),
        "qa_real41": (ROOT / "fixtures" / "qa_real41", 14, 46),
        "qa_real42": (ROOT / "fixtures" / "qa_real42", 14, 48),
        "qa_real43": (ROOT / "fixtures" / "qa_real43", 13, 44),
        "qa_real44": (ROOT / "fixtures" / "qa_real44", 14, 48),
        "qa_real45": (ROOT / "fixtures" / "qa_real45", 14, 48),
        "qa_real46": (ROOT / "fixtures" / "qa_real46", 14, 48),
        "qa_real47": (ROOT / "fixtures" / "qa_real47", 14, 48),
        "qa_real48": (ROOT / "fixtures" / "qa_real48", 12, 36),
        "qa_real49": (ROOT / "fixtures" / "qa_real49", 12, 34),
        "qa_real50": (ROOT / "fixtures" / "qa_real50", 12, 34),
        "qa_fresh40": (ROOT / "fixtures" / "qa_fresh40", 16, 48),
        "qa_fresh41": (ROOT / "fixtures" / "qa_fresh41", 16, 46),
        "qa_fresh42": (ROOT / "fixtures" / "qa_fresh42", 12, 38),
        "qa_fresh43": (ROOT / "fixtures" / "qa_fresh43", 12, 36),
        "qa_fresh44": (ROOT / "fixtures" / "qa_fresh44", 12, 36),
        "qa_fresh45": (ROOT / "fixtures" / "qa_fresh45", 12, 36),
        "qa_fresh46": (ROOT / "fixtures" / "qa_fresh46", 11, 32),
        "qa_fresh47": (ROOT / "fixtures" / "qa_fresh47", 12, 36),
        "qa_fresh48": (ROOT / "fixtures" / "qa_fresh48", 12, 36),
        "qa_fresh49": (ROOT / "fixtures" / "qa_fresh49", 12, 36),
        "qa_fresh50": (ROOT / "fixtures" / "qa_fresh50", 12, 36),
        "qa_keras40": (ROOT / "fixtures" / "qa_keras40", 12, 40),
        "qa_keras41": (ROOT / "fixtures" / "qa_keras41", 12, 40),
        "qa_keras48": (ROOT / "fixtures" / "qa_keras48", 10, 30),
        "qa_keras49": (ROOT / "fixtures" / "qa_keras49", 10, 30),
        "qa_keras50": (ROOT / "fixtures" / "qa_keras50", 10, 30),
        "qa_wild41": (ROOT / "fixtures" / "qa_wild41", 12, 32),
        "qa_mixed41": (ROOT / "fixtures" / "qa_mixed41", 11, 40),
        "qa_wild42": (ROOT / "fixtures" / "qa_wild42", 12, 32),
        "qa_begin42": (ROOT / "fixtures" / "qa_begin42", 12, 32),
        "qa_jax42": (ROOT / "fixtures" / "qa_jax42", 12, 42),
        "qa_mixed42": (ROOT / "fixtures" / "qa_mixed42", 12, 42),
        "qa_wild43": (ROOT / "fixtures" / "qa_wild43", 12, 32),
        "qa_jax43": (ROOT / "fixtures" / "qa_jax43", 12, 42),
        "qa_mixed43": (ROOT / "fixtures" / "qa_mixed43", 12, 42),
        "qa_begin44": (ROOT / "fixtures" / "qa_begin44", 12, 32),
        "qa_mixed44": (ROOT / "fixtures" / "qa_mixed44", 12, 42),
        "qa_wild44": (ROOT / "fixtures" / "qa_wild44", 12, 32),
        "qa_jax44": (ROOT / "fixtures" / "qa_jax44", 10, 36),
        "qa_begin45": (ROOT / "fixtures" / "qa_begin45", 12, 32),
        "qa_mixed45": (ROOT / "fixtures" / "qa_mixed45", 12, 42),
        "qa_wild45": (ROOT / "fixtures" / "qa_wild45", 12, 32),
        "qa_jax45": (ROOT / "fixtures" / "qa_jax45", 10, 36),
        "qa_begin46": (ROOT / "fixtures" / "qa_begin46", 12, 32),
        "qa_jax46": (ROOT / "fixtures" / "qa_jax46", 10, 36),
        "qa_jax47": (ROOT / "fixtures" / "qa_jax47", 10, 36),
        "qa_mixed46": (ROOT / "fixtures" / "qa_mixed46", 12, 42),
        "qa_wild46": (ROOT / "fixtures" / "qa_wild46", 12, 32),
        "qa_wild47": (ROOT / "fixtures" / "qa_wild47", 12, 32),
        "qa_wild48": (ROOT / "fixtures" / "qa_wild48", 12, 28),
        "qa_wild49": (ROOT / "fixtures" / "qa_wild49", 12, 28),
        "qa_wild50": (ROOT / "fixtures" / "qa_wild50", 12, 28),
        "qa_begin47": (ROOT / "fixtures" / "qa_begin47", 12, 32),
        "qa_mixed47": (ROOT / "fixtures" / "qa_mixed47", 12, 42),
        "qa_begin48": (ROOT / "fixtures" / "qa_begin48", 12, 32),
        "qa_jax48": (ROOT / "fixtures" / "qa_jax48", 9, 32),
        "qa_mixed48": (ROOT / "fixtures" / "qa_mixed48", 10, 38),
        "qa_mixed49": (ROOT / "fixtures" / "qa_mixed49", 12, 44),
        "qa_begin49": (ROOT / "fixtures" / "qa_begin49", 12, 32),
        "qa_jax50": (ROOT / "fixtures" / "qa_jax50", 10, 34),
        "qa_begin50": (ROOT / "fixtures" / "qa_begin50", 12, 32),
        "qa_mixed50": (ROOT / "fixtures" / "qa_mixed50", 12, 44)}
PARAMS = pytest.mark.parametrize("name", sorted(SETS))


def programs(root: Path) -> list[Path]:
    return sorted(p for p in (root / "programs").glob("*.py") if not p.name.startswith("_"))

FIELDS = ("cause", "log_visible", "input_kind", "framework", "writer", "data", "model",
          "optimizer", "fault", "severity", "style", "pair", "seed", "modelled_on")
LOG_NAMES = (".csv", ".tsv", ".log", ".jsonl", "tfevents", "trainer_state.json", ".wandb", "meta.yaml",
             "history.json", ".txt", ".npy", ".npz", ".pt", "mlflow.db", "metrics.json", ".pkl",
             "results.json", "costs.json", ".out", "log.json", "hist.json", "verlauf.json", "training.json")
KINDS = {"torch": "torch_adapter", "jax": "jax_adapter"}


def _labels(root: Path = QA) -> list[Path]:
    return sorted((root / "logs").glob("*/*/label.json"))


@PARAMS
def test_enough_pairs_each_modelled_on_its_own_public_thread(name):
    root, n_pairs, _ = SETS[name]
    progs = programs(root)
    assert len(progs) >= n_pairs
    urls = set()
    for p in progs:
        meta = read_meta(p)
        assert meta["cause"] in CAUSES, p.name
        assert meta["modelled_on"].startswith(("http://", "https://")), p.name
        doc = p.read_text().split("META = ")[0]
        assert meta["modelled_on"] in doc, f"{p.name}: the docstring does not cite {meta['modelled_on']}"
        assert "--fixed" in doc, f"{p.name}: the docstring does not say what --fixed changes"
        urls.add(meta["modelled_on"])
    assert len(urls) == len(progs)


@PARAMS
def test_every_run_has_a_contract_label_that_matches_its_program(name):
    root, _, n_labels = SETS[name]
    labels = _labels(root)
    assert len(labels) >= n_labels
    for f in labels:
        lab = json.loads(f.read_text())
        missing = [k for k in FIELDS if k not in lab]
        assert not missing, f"{f}: label.json lacks {missing}"
        assert lab["style"] == "qa"
        meta = read_meta(root / "programs" / f"{lab['pair']}.py")
        run = f.parent.name
        assert lab["cause"] == (meta["cause"] if run.startswith("buggy") else "healthy"), f
        adapter = run.endswith("_adapter")
        kind = KINDS.get(meta["framework"], "keras_adapter") if adapter else "logs"
        assert lab["input_kind"] == kind, f
        files = [p.name for p in f.parent.rglob("*") if p.is_file() and p.name != "label.json"]
        assert any(any(k in n for k in LOG_NAMES) for n in files), f"{f.parent}: no log file in {files}"
        if adapter:
            assert "context.json" in files, f.parent


@PARAMS
def test_pairs_are_complete_and_the_index_lists_every_run(name):
    root = SETS[name][0]
    logs = root / "logs"
    assert {d.name for d in logs.iterdir() if d.is_dir()} == {p.stem for p in programs(root)}
    for d in sorted(p for p in logs.iterdir() if p.is_dir()):
        runs = {p.name for p in d.iterdir() if (p / "label.json").is_file()}
        assert {"buggy", "fixed"} <= runs, d.name
        assert ("buggy_adapter" in runs) == ("fixed_adapter" in runs), d.name
    index = json.loads((logs / "index.json").read_text())
    assert {r["path"] for r in index["runs"]} == {str(f.parent.relative_to(logs)) for f in _labels(root)}
    assert index["total_bytes"] < 10_000_000
