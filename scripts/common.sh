# Sourced by the scripts: the project root, and mpirun usable as root.
root_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Containers often have no usable high-speed fabric; keep Open MPI quiet
# about it and on shared memory / TCP.
export OMPI_MCA_btl_base_warn_component_unused=0

# build DIR [meson options...]: configure once, then build.
build() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$root_dir" "$@"
  fi
  ninja -C "$dir"
}
