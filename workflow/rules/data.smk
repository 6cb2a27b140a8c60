# Real images: decode/crop into one array per data set, subsets, and the real class split.


rule prepare_real:
    output:
        "<results>/real/{dataset}/images.npy",
    params:
        source=dataset_setting("source"),
        path=lambda wc: optional_flag("--path", config["datasets"][wc.dataset]["path"]),
        crop=dataset_setting("crop"),
        n_images=dataset_setting("count"),
        seed=dataset_setting("seed"),
        on_bad_image=dataset_setting("on_bad_image"),
        alpha_background=dataset_setting("alpha_background"),
        size=config["image_size"],
    threads: 4
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/prepare_real/{dataset}.log",
    benchmark:
        "<results>/benchmarks/prepare_real/{dataset}.tsv",
    shell:
        "python -m ganprint prepare-real --source {params.source} {params.path} --crop {params.crop}"
        " --size {params.size} --count {params.n_images} --seed {params.seed} --on-bad-image {params.on_bad_image}"
        " --alpha-background {params.alpha_background} --threads {threads}"
        " --output {output:q} 2> {log:q}"


rule real_subset:
    input:
        "<results>/real/{dataset}/images.npy",
    output:
        "<results>/real/{dataset}/subsets/diff{difference}.npy",
    params:
        base_size=config["subsets"]["base_size"],
        difference=lambda wc: subset_difference(int(wc.difference), config),
        seed=config["subsets"]["seed"],
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/real_subset/{dataset}/diff{difference}.log",
    benchmark:
        "<results>/benchmarks/real_subset/{dataset}/diff{difference}.tsv",
    shell:
        "python -m ganprint real-subset --images {input:q} --base-size {params.base_size}"
        " --difference {params.difference} --seed {params.seed} --output {output:q} 2> {log:q}"


rule split_real:
    input:
        "<results>/real/{dataset}/images.npy",
    output:
        train="<results>/sources/{dataset}/real/train.npy",
        test="<results>/sources/{dataset}/real/test.npy",
        val="<results>/sources/{dataset}/real/val.npy",
    params:
        n_train=config["split"]["n_train"],
        n_test=config["split"]["n_test"],
        n_val=config["split"]["n_val"],
        seed=config["split"]["seed"],
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/split_real/{dataset}.log",
    benchmark:
        "<results>/benchmarks/split_real/{dataset}.tsv",
    shell:
        "python -m ganprint split-real --images {input:q} --n-train {params.n_train} --n-test {params.n_test}"
        " --n-val {params.n_val} --seed {params.seed} --train-output {output.train:q}"
        " --test-output {output.test:q} --val-output {output.val:q} 2> {log:q}"


# A folder source with a pipeline (`folder_sources.<name>.pipeline`): its images made by a
# local diffusers pipeline, as PNG files in a folder that the source then reads.
rule generate_pipeline_source:
    output:
        directory("<results>/pipelines/{folder}"),
    params:
        flags=pipeline_flags,
    threads: 4
    resources:
        **cluster_resources(gpu=True, runtime=240, mem_mb=32000),
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/generate_pipeline_source/{folder}.log",
    benchmark:
        "<results>/benchmarks/generate_pipeline_source/{folder}.tsv"
    shell:
        "python -m ganprint generate-pipeline {params.flags} --threads {threads} --output {output:q} 2> {log:q}"


# Folder sources (`folder_sources`): images made elsewhere, read like a folder data set (or
# at native resolution), with a report of their files' formats, and split like the real
# images; the same split serves every data set.
rule prepare_folder_source:
    input:
        pipeline_made_images,
    output:
        images="<results>/folders/{folder}/images.npy",
        formats="<results>/folders/{folder}/formats.json",
    params:
        path=folder_source_paths,
        crop=folder_source_setting("crop"),
        n_images=folder_source_images,
        on_bad_image=folder_source_setting("on_bad_image"),
        alpha_background=folder_source_setting("alpha_background"),
        native=native_window_flags,
        reencode=reencode_flag,
        size=config["image_size"],
    threads: 4
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/prepare_folder_source/{folder}.log",
    benchmark:
        "<results>/benchmarks/prepare_folder_source/{folder}.tsv"
    shell:
        "python -m ganprint prepare-real --source folder {params.path} --crop {params.crop} --size {params.size}"
        " --count {params.n_images} --on-bad-image {params.on_bad_image} --alpha-background {params.alpha_background}"
        " {params.native} {params.reencode} --threads {threads} --formats {output.formats:q}"
        " --output {output.images:q} 2> {log:q}"


use rule split_real as split_folder_source with:
    input:
        "<results>/folders/{folder}/images.npy",
    output:
        train="<results>/sources/{dataset}/{folder}/train.npy",
        test="<results>/sources/{dataset}/{folder}/test.npy",
        val="<results>/sources/{dataset}/{folder}/val.npy",
    log:
        "<results>/logs/split_folder_source/{dataset}/{folder}.log",
    benchmark:
        "<results>/benchmarks/split_folder_source/{dataset}/{folder}.tsv"


# The formats of an experiment's folder sources' files compared: every difference a classifier
# could learn instead of the generators, warned of before its classifier trains.
rule format_check:
    input:
        lambda wc: [f"<results>/folders/{s}/formats.json" for s in config["experiments"][wc.experiment]["sources"]
                    if s in FOLDER_SOURCES],
    output:
        "<results>/formats/{experiment}.csv",
    params:
        sources=lambda wc: [s for s in config["experiments"][wc.experiment]["sources"] if s in FOLDER_SOURCES],
        reencoded=lambda wc: optional_flag("--reencoded-quality", (config["reencode"] or {}).get("quality")),
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/format_check/{experiment}.log",
    shell:
        "python -m ganprint format-check --reports {input:q} --sources {params.sources:q} {params.reencoded}"
        " --output {output:q} 2> {log:q}"
        " && (grep -A 1000 ' WARNING ' {log:q} >&2 || true)"
