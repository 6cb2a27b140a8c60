# Attribution against GAN training length: the training-length experiment on its GANs'
# snapshots (ours and training_length.methods), as a table and one figure per data set.


rule training_length_table:
    input:
        training_length_metrics(),
    output:
        "<results>/training_length.csv",
    params:
        images_per_run=images_per_run() if training_length_experiments() else "",
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/tables/training_length.log",
    shell:
        "python -m ganprint length-table --metrics {input:q} --images-per-run {params.images_per_run}"
        " --output {output:q} > {log:q} 2>&1"


rule figure_training_length:
    input:
        "<results>/training_length.csv",
    output:
        report(
            "<results>/figures/training_length_{dataset}.png",
            caption="../report/figure_training_length.rst",
            category="Figures",
        ),
    params:
        title=lambda wc: f"Attribution against GAN training length, {wc.dataset}",
    conda:
        ENVIRONMENT
    log:
        "<results>/logs/figures/training_length_{dataset}.log",
    shell:
        "python -m ganprint figure-length --table {input:q} --dataset {wildcards.dataset} --title {params.title:q}"
        " --output {output:q} 2> {log:q}"
