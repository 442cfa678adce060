export * from './agent';
export * from './identity';
export * from './control-plane';
export * from './capabilities';
export * from './onnx/reference-model';
export * from './onnx/benchmark';
