# GAN instances: training (resumable) and sampling of the train and test images; an
# instance named with `_at{fraction}` is sampled from the snapshot its run took then.

GAN_TRAINING_MINUTES = 2880  # a paper-scale ProGAN on one GPU, with room


rule train_gan:
    wildcard_constraints:
        instance=wildcard_pattern(TRAINED_INSTANCE_NAME),
    input:
        images="<results>/real/{dataset}/images.npy",
        subset=gan_training_subset,
    output:
        "<results>/gans/{dataset}/{instance}/generator.pt",
    params:
        arch=lambda wc: parse_instance(wc.instance).arch,
        seed=lambda wc: parse_instance(wc.instance).seed,
        settings=gan_settings,
        subset=lambda wc, input: optional_flag("--subset", input.subset),
        flags=gan_training_flags,
        threads=gan_training_threads,
    threads: gan_training_threads
    resources:
        **cluster_resources(gpu=True, runtime=GAN_TRAINING_MINUTES, mem_mb=16000),
    retries: training_retries(GAN_TRAINING_MINUTES)
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/train_gan/{dataset}/{instance}.log",
    benchmark:
        "<results>/benchmarks/train_gan/{dataset}/{instance}.tsv"
    shell:
        "python -m ganprint train-gan --arch {params.arch} --settings {params.settings:q} --images {input.images:q}"
        " {params.subset} {params.flags} --seed {params.seed} --threads {params.threads} --output {output:q} 2> {log:q}"


rule sample_gan:
    input:
        generator_checkpoint,
    output:
        train="<results>/sources/{dataset}/{instance}/train.npy",
        test="<results>/sources/{dataset}/{instance}/test.npy",
        val="<results>/sources/{dataset}/{instance}/val.npy",
    params:
        n_train=config["split"]["n_train"],
        n_test=config["split"]["n_test"],
        n_val=config["split"]["n_val"],
        seed=lambda wc: sampling_seed(wc.instance, config["sampling"]["seed"]),
        batch=config["sampling"]["batch"],
        export=lambda wc: config["sampling"]["export"][parse_instance(wc.instance).arch],
        snapshot=lambda wc: optional_flag("--snapshot", parse_instance(wc.instance).snapshot),
    threads: 1
    resources:
        **cluster_resources(gpu=True, runtime=120, mem_mb=8000),
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/sample_gan/{dataset}/{instance}.log",
    benchmark:
        "<results>/benchmarks/sample_gan/{dataset}/{instance}.tsv"
    shell:
        "python -m ganprint sample-gan --checkpoint {input:q} {params.snapshot} --n-train {params.n_train}"
        " --n-test {params.n_test} --n-val {params.n_val} --seed {params.seed} --batch {params.batch}"
        " --export {params.export}"
        " --threads {threads} --train-output {output.train:q} --test-output {output.test:q}"
        " --val-output {output.val:q} 2> {log:q}"
