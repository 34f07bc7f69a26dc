# The team's Airflow image: the official image of the platform's Airflow, plus requirements.txt.
# The way Airflow's docker-stack docs extend the image
# (https://airflow.apache.org/docs/docker-stack/build.html, "Adding new PyPI packages"):
# pip as the airflow user (never root), apache-airflow pinned to the image's own version so pip
# cannot move it, and Airflow's constraints file of that version, so every package the image
# already carries stays at the version the image was built and tested with.
#
# AIRFLOW_VERSION is cdktf.json's `airflow_image_tag`: CI builds with
# `--build-arg AIRFLOW_VERSION=<airflow_image_tag>`, and tests/test_team_image.py fails when this
# default differs, so a bump of one without the other cannot pass.
ARG AIRFLOW_VERSION=3.3.2
FROM apache/airflow:${AIRFLOW_VERSION}
ARG AIRFLOW_VERSION

USER airflow
COPY --chown=airflow:0 requirements.txt /opt/airflow-team/requirements.txt
# The constraints of this Airflow version for the image's own Python (major.minor).
RUN PYTHON_MAJOR_MINOR="$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
 && pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" \
      --requirement /opt/airflow-team/requirements.txt \
      --constraint "https://raw.githubusercontent.com/apache/airflow/constraints-${AIRFLOW_VERSION}/constraints-${PYTHON_MAJOR_MINOR}.txt"
