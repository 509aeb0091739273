# faces.mk: FaceWGAN's tools as make steps. Copy it into your project, or run it from the repository:
#
#   make -f examples/faces.mk [-j2] [VARIABLE=value ...]
#
#   PHOTOS/ -> OUT/shards/index.json -> OUT/run/checkpoint.safetensors -> OUT/grid.png
#                                                                      -> OUT/quality.json
#                                                                      -> OUT/walk/latents.txt -> OUT/walk/frames/
#                                                                                              -> OUT/walk/strip.png
#
# Each rule's prerequisites are the files its tool reads plus a small settings file (OUT/settings/*)
# that holds the variables the rule uses and is rewritten only when they change. So make's own
# timestamps decide what to redo: a new photo redoes everything, a new GRID_SEED only the grid, a
# higher STEPS continues the training run with --resume. Every tool writes its outputs atomically and
# exits non-zero on failure, so a target exists only when it is complete and a failed step stops make.

# ---- settings (each can be given on the command line or in the environment) -----------------------
# A folder of face photos (JPEG/PNG, searched recursively; paths without spaces).
PHOTOS ?= data/faces
OUT ?= out/make
# Image side (32, 64 or 128), generator steps, batch, network width, latent dimension, seed.
SIZE ?= 32
STEPS ?= 2000
BATCH ?= 64
WIDTH ?= 16
Z_DIM ?= 128
SEED ?= 1
EMA_DECAY ?= 0.995
# Threads for every tool (empty: all cores).
THREADS ?=
# Faces in the grid, its columns and the seed of its latents.
GRID_COUNT ?= 64
GRID_COLUMNS ?= 8
GRID_SEED ?= $(SEED)
# The walk: keyframes, latents per segment (looped: KEYFRAMES * WALK_STEPS frames), seed.
KEYFRAMES ?= 4
WALK_STEPS ?= 8
WALK_SEED ?= $(SEED)
# Quality figures: how many fakes against as many real images (empty: all the shards hold, at most
# 10,000) and the seed of their draws.
EVAL_COUNT ?=
EVAL_SEED ?= $(SEED)
# E.g. 0.7 for cleaner, less varied faces in the grid and the walk (empty: none).
TRUNCATION ?=
# Extra arguments for one tool, e.g. PREPROCESS_ARGS="--crop-size 108", TRAIN_ARGS="--sample-every 100".
PREPROCESS_ARGS ?=
TRAIN_ARGS ?=
# Where the tools are (`swift build -c release` puts them in .build/release); BIN= uses your PATH.
FACEWGAN_BIN ?= .build/release
BIN ?= $(FACEWGAN_BIN)

# ---- derived names ---------------------------------------------------------------------------------
tool = $(if $(BIN),$(BIN)/)$1
threads = $(if $(THREADS),--threads $(THREADS))
truncation = $(if $(TRUNCATION),--truncation $(TRUNCATION))
SET = $(OUT)/settings
SHARDS = $(OUT)/shards/index.json
RUN = $(OUT)/run
CHECKPOINT = $(RUN)/checkpoint.safetensors
WALK = $(OUT)/walk
FRAMES = $(shell expr $(KEYFRAMES) \* $(WALK_STEPS))
# The photos and the folders that hold them (a folder's time changes when a photo is added or removed).
PHOTO_FILES := $(shell find $(PHOTOS) -type d -o -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) 2>/dev/null)

# ---- settings files --------------------------------------------------------------------------------
# $(call settings,FILE,TEXT) writes TEXT to FILE unless FILE already holds it. It runs while make reads
# this file, not as a rule, so that `make -q` can tell that nothing needs doing.
settings = $(shell mkdir -p $(dir $1) && [ "$$(cat $1 2>/dev/null)" = '$2' ] || echo '$2' > $1)
ifeq ($(filter clean,$(MAKECMDGOALS)),)
$(call settings,$(SET)/shards,size=$(SIZE) $(PREPROCESS_ARGS))
# Every training setting but STEPS: a change starts the run over; STEPS has a file of its own.
$(call settings,$(SET)/train,batch=$(BATCH) width=$(WIDTH) z_dim=$(Z_DIM) seed=$(SEED) ema_decay=$(EMA_DECAY) $(TRAIN_ARGS))
$(call settings,$(SET)/steps,$(STEPS))
$(call settings,$(SET)/grid,count=$(GRID_COUNT) columns=$(GRID_COLUMNS) seed=$(GRID_SEED) $(truncation))
$(call settings,$(SET)/quality,count=$(EVAL_COUNT) seed=$(EVAL_SEED))
$(call settings,$(SET)/walk,keyframes=$(KEYFRAMES) steps=$(WALK_STEPS) seed=$(WALK_SEED) $(truncation))
# A training that stopped early (Ctrl-C, kill, an error) leaves $(SET)/training behind, and a checkpoint
# that is not the finished run: marking STEPS as changed makes this make resume it.
ifneq ($(wildcard $(SET)/training),)
$(shell touch $(SET)/steps)
endif
endif

# ---- rules -----------------------------------------------------------------------------------------
.PHONY: all clean
all: $(OUT)/grid.png $(WALK)/frames $(WALK)/strip.png $(OUT)/quality.json

# Shards: preprocess removes the old index.json first and writes the new one last.
$(SHARDS): $(PHOTO_FILES) $(SET)/shards
	$(call tool,preprocess) $(PHOTOS) --size $(SIZE) --out $(@D) --force $(threads) $(PREPROCESS_ARGS)

# Training: a new run (the old one removed), or, when only STEPS changed or a run stopped early, the
# same run continued with --resume up to STEPS (train does nothing when it is there already; touch
# then tells make the checkpoint is current). .PRECIOUS: make must not delete the checkpoint that
# train writes when Ctrl-C stops it.
.PRECIOUS: $(CHECKPOINT)
resuming = $(if $(wildcard $@),$(if $(filter-out $(SET)/steps,$?),,yes))
$(CHECKPOINT): $(SHARDS) $(SET)/train $(SET)/steps
	@touch $(SET)/training
	$(if $(resuming),,rm -rf $(RUN))
	$(call tool,train) --data $(<D) --out $(RUN) --steps $(STEPS) --batch $(BATCH) --width $(WIDTH) \
	  --z-dim $(Z_DIM) --seed $(SEED) --ema-decay $(EMA_DECAY) $(threads) $(TRAIN_ARGS) $(if $(resuming),--resume)
	touch $@
	@rm $(SET)/training

# A grid of new faces from the run's EMA generator.
$(OUT)/grid.png: $(CHECKPOINT) $(SET)/grid
	$(call tool,sample) --checkpoint $(RUN) --count $(GRID_COUNT) --seed $(GRID_SEED) $(truncation) \
	  --grid $@ --columns $(GRID_COLUMNS) $(threads)

# SWD and MS-SSIM of the run's EMA generator against the shards: one JSON line (see README, evaluate).
$(OUT)/quality.json: $(CHECKPOINT) $(SHARDS) $(SET)/quality
	$(call tool,evaluate) --real $(dir $(SHARDS)) --checkpoint $(RUN) $(if $(EVAL_COUNT),--count $(EVAL_COUNT)) \
	  --seed $(EVAL_SEED) $(threads) > $@.tmp || { rm -f $@.tmp; exit 1; }
	mv $@.tmp $@

# The walk: a looping interpolation through KEYFRAMES random latents, then its frames and a strip.
$(WALK)/latents.txt: $(CHECKPOINT) $(SET)/walk
	@mkdir -p $(@D)
	$(call tool,interpolate) --checkpoint $(RUN) --keyframes $(KEYFRAMES) --steps $(WALK_STEPS) \
	  --seed $(WALK_SEED) --loop > $@.tmp
	mv $@.tmp $@

# Frames go to a scratch folder renamed into place, so frames/ exists only when complete.
$(WALK)/frames: $(WALK)/latents.txt $(CHECKPOINT)
	rm -rf $@ $@.partial
	$(call tool,sample) --checkpoint $(RUN) --latents $< $(truncation) --out $@.partial $(threads)
	mv $@.partial $@

$(WALK)/strip.png: $(WALK)/latents.txt $(CHECKPOINT)
	$(call tool,sample) --checkpoint $(RUN) --latents $< $(truncation) --grid $@ --columns $(FRAMES) \
	  --padding 1 $(threads)

# `evaluate` (quality figures of the run) gets its rule here once that tool exists.

clean:
	rm -rf $(OUT)/shards $(RUN) $(OUT)/grid.png $(OUT)/quality.json $(WALK) $(SET)
