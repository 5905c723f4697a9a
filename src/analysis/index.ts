/** ocikura/analysis: what is inside an image: layer indexes, waste, files, diff, lint and secrets. */
export {
  indexLayer,
  type IndexEntry,
  type LayerIndex,
  type FileType,
  type ContentInspector,
  type IndexOptions,
} from './layer-index.js';
export {
  indexImage,
  readLayerIndex,
  LayerIndexLoader,
  type IndexCache,
  type LayerScanner,
  type ScannedIndex,
  type ImageIndexOptions,
  type ImageIndexes,
} from './image-index.js';
export { FsTree, stackLayers, type FlatEntry, type LayerEffect } from './fs-tree.js';
export { analyzeWaste, type WasteReport, type PathWaste, type LayerStats } from './waste.js';
export { layersReport, type LayersReport, type LayerRow } from './layers.js';
export {
  parseCiRules,
  evaluateCiRules,
  parseBytes,
  CI_DEFAULTS,
  CiConfigError,
  type CiRules,
  type RuleResult,
} from './dive-ci.js';
export { imageTree, resolvePath, listTree, catFile, modeString, PathError, type ListOptions } from './files.js';
export { locateTopDown, type Located } from './locate.js';
export { extractPath, type ExtractOptions, type ExtractResult } from './extract.js';
export {
  diffImages,
  diffConfigs,
  type DiffReport,
  type FileChange,
  type ConfigChange,
  type FileState,
} from './diff.js';
export { lintImage, type LintOptions } from './lint.js';
export { LINT_RULES, SEVERITIES, type LintRule, type Finding, type Severity } from './lint-rules.js';
export {
  applyIgnores,
  parseIgnoreFile,
  parseSeverities,
  toSarif,
  IgnoreFileError,
  type IgnoreEntry,
} from './lint-output.js';
export { findSecrets, secretScanner, secretAssignments, type SecretHit } from './secrets.js';
export { resolveImage, type ResolvedImage } from './resolve.js';
