import { PageHeader } from '../components/ui';

export default function OverlaysPage() {
  return <PageHeader title="Overlays" />;
}
